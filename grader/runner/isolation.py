"""A private network for one grading run.

Why: the learner's program and the grader's probes then share a loopback that
nothing else on the machine uses. Ports cannot collide with a second grading
run beside this one, TIME_WAIT sockets vanish with the namespace, and a
submission cannot reach any other host. As root the grader unshares the
network namespace directly; as an ordinary user it first enters a private
user namespace (where it also gains CAP_NET_RAW for scapy). Both must happen
before the grader starts any thread: unshare() changes only the calling
thread, and CLONE_NEWUSER is refused to a threaded process.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def _unshare(flags: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))


def enter_private_network() -> str | None:
    """Move this process into a new network namespace with only ``lo`` up.
    Returns None on success, else why it could not (the run then uses the
    host's loopback)."""
    try:
        if os.geteuid() == 0:
            _unshare(CLONE_NEWNET)
        else:
            uid, gid = os.geteuid(), os.getegid()
            _unshare(CLONE_NEWUSER | CLONE_NEWNET)
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
        _loopback_up()
        return None
    except OSError as exc:
        return f"no private network namespace ({exc.strerror}): graded on the host's loopback"
