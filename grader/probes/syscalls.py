"""Syscall numbers of the calls a blocked server sits in, per architecture.

Numbers differ between architectures (aarch64 has no select or epoll_wait,
only pselect6 and epoll_pwait), so an unknown machine gets "unknown", never a
guess."""

import platform

TABLE = {
    "x86_64": {
        0: "read", 7: "poll", 23: "select", 43: "accept", 45: "recvfrom", 47: "recvmsg",
        202: "futex", 232: "epoll_wait", 270: "pselect6", 271: "ppoll", 281: "epoll_pwait",
        288: "accept4", 441: "epoll_pwait2", 61: "wait4", 35: "nanosleep", 230: "clock_nanosleep",
        34: "pause", 1: "write", 44: "sendto", 46: "sendmsg", 42: "connect",
    },
    "aarch64": {
        63: "read", 72: "pselect6", 73: "ppoll", 22: "epoll_pwait", 441: "epoll_pwait2",
        242: "accept4", 202: "accept", 207: "recvfrom", 212: "recvmsg", 98: "futex",
        260: "wait4", 101: "nanosleep", 115: "clock_nanosleep", 64: "write", 206: "sendto",
    },
}

# What each readiness model may be blocked in, by name.
SELECT_CALLS = {"select", "pselect6"}
EPOLL_CALLS = {"epoll_wait", "epoll_pwait", "epoll_pwait2"}
POLL_CALLS = {"poll", "ppoll"}


def known_architecture() -> bool:
    return platform.machine() in TABLE


def name(number: int) -> str:
    table = TABLE.get(platform.machine())
    if table is None:
        return "unknown"
    return table.get(number, f"syscall {number}")
