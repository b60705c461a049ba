"""A UDP peer's toolkit for probing servers, and the kernel's UDP table.

Every wait has a deadline and every read a cap. UDP may lose a datagram, so
``ask`` sends again (a few times) when no reply comes; a wrong reply is
returned at once, never retried away. ``sockets_of`` reads
``/proc/net/udp`` and ``/proc/net/udp6`` and keeps the sockets whose inodes
the process holds: that is how "one UDP socket" is told from "one
descriptor" (asyncio, say, holds sockets of its own that are not UDP)."""

from __future__ import annotations

import socket
import sys
import time
from dataclasses import dataclass

from grader.probes import proc

MAX_DATAGRAM = 65535


def family_of(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def peer_socket(host: str, bind: tuple[str, int] | None = None) -> socket.socket:
    """A client socket for talking to ``host``, bound (to an ephemeral port
    unless ``bind`` says otherwise) so that it can receive at once."""
    sock = socket.socket(family_of(host), socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind(bind or (("::1" if ":" in host else "127.0.0.1"), 0))
    return sock


@dataclass
class Reply:
    data: bytes
    sender: tuple
    tries: int


def receive(sock: socket.socket, timeout: float) -> tuple[bytes, tuple] | None:
    """One datagram within ``timeout`` seconds, or None."""
    sock.settimeout(max(timeout, 0.001))
    try:
        data, sender = sock.recvfrom(MAX_DATAGRAM)
        return data, sender[:2]
    except (socket.timeout, TimeoutError, BlockingIOError):
        return None
    except OSError:
        return None


def drain(sock: socket.socket) -> list[tuple[bytes, tuple]]:
    """Everything already queued on ``sock``."""
    got = []
    while (item := receive(sock, 0.001)) is not None:
        got.append(item)
    return got


def ask(sock: socket.socket, address: tuple[str, int], payload: bytes, timeout: float,
        tries: int = 3, *, stop=None, match: bool = False) -> Reply | None:
    """Send ``payload`` to ``address`` and return the first datagram that
    comes back (from anyone; with ``match``, the first one equal to
    ``payload``), sending again up to ``tries`` times in all when nothing
    comes within ``timeout``. ``stop()`` true ends the wait early (the server
    died: no reply will come)."""
    drain(sock)
    for n in range(1, tries + 1):
        try:
            sock.sendto(payload, address)
        except OSError:
            pass
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            got = receive(sock, min(left, 0.1))
            if got is not None and (not match or got[0] == payload):
                return Reply(got[0], got[1], n)
            if stop is not None and stop():
                return None
    return None


# -- the kernel's UDP table ----------------------------------------------------

@dataclass
class UdpSocket:
    inode: int
    family: int
    local: tuple[str, int]
    remote: tuple[str, int] | None      # set when the socket is connected
    rx_queue: int                       # bytes waiting to be read
    drops: int                          # datagrams dropped for want of room

    def describe(self) -> str:
        ip, port = self.local
        where = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
        if self.remote:
            rip, rport = self.remote
            where += f", connected to {f'[{rip}]' if ':' in rip else rip}:{rport}"
        return where


def _address(text: str, family: int) -> tuple[str, int]:
    addr, port = text.split(":")
    raw = bytes.fromhex(addr)
    if sys.byteorder == "little":
        # Written as 32-bit words in host byte order.
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(family, raw), int(port, 16)


def table() -> dict[int, UdpSocket]:
    """inode -> socket, for every UDP socket of this network namespace."""
    found = {}
    for path, family in (("/proc/net/udp", socket.AF_INET), ("/proc/net/udp6", socket.AF_INET6)):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local = _address(fields[1], family)
                    remote = _address(fields[2], family)
                    rx = int(fields[4].split(":")[1], 16)
                    inode = int(fields[9])
                    found[inode] = UdpSocket(inode, family, local, remote if remote[1] else None, rx,
                                             int(fields[12]) if len(fields) > 12 else 0)
        except (OSError, StopIteration, ValueError, IndexError):
            continue
    return found


def sockets_of(pid: int) -> list[tuple[int, int, UdpSocket]]:
    """(pid, fd, socket) for every UDP socket held by ``pid`` and its
    descendants."""
    udp = table()
    held = []
    for p in proc.descendants(pid):
        for fd, inode in proc.socket_fds(p.pid).items():
            if inode in udp:
                held.append((p.pid, fd, udp[inode]))
    return held


def wait_drained(pid: int, port: int, timeout: float) -> bool:
    """Wait until the program's socket on ``port`` has read everything queued
    for it (rx_queue 0): proof it got through a burst, without a reply."""
    end = time.monotonic() + timeout
    while True:
        mine = [s for _, _, s in sockets_of(pid) if s.local[1] == port]
        if mine and all(s.rx_queue == 0 for s in mine):
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.01)
