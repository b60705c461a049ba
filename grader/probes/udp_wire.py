"""UDP datagrams on the wire, seen on the loopback with a raw socket.

A ``UdpTap`` records the datagrams to or from one port on ``lo``, keeping
only the incoming copy of each (PACKET_HOST; on the loopback every packet is
seen twice). It counts what was really sent, including datagrams no socket
received (nothing listening, a full buffer), which a receiving socket cannot.

Times are the kernel's (SO_TIMESTAMPNS), moved onto the monotonic clock: the
gaps between retransmissions are measured to a few microseconds even when
the grader's own threads are slow to run on a busy machine.

Raw sockets need CAP_NET_RAW: checks that use a tap ask for ``wire_ok``.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass

ETH_P_ALL = 0x0003
PACKET_HOST = 0
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


@dataclass
class WireDatagram:
    time: float         # monotonic seconds, from the kernel's receive timestamp
    src: str
    sport: int
    dst: str
    dport: int
    data: bytes


def _parse(frame: bytes, t: float) -> WireDatagram | None:
    """Ethernet (zeroed on lo) + IPv4/IPv6 + UDP; fragments are ignored."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    if ethertype == 0x0800:
        ihl = (frame[14] & 0x0F) * 4
        if frame[23] != 17 or struct.unpack_from("!H", frame, 20)[0] & 0x1FFF:
            return None
        src = socket.inet_ntop(socket.AF_INET, frame[26:30])
        dst = socket.inet_ntop(socket.AF_INET, frame[30:34])
        off = 14 + ihl
    elif ethertype == 0x86DD:
        if frame[20] != 17:
            return None
        src = socket.inet_ntop(socket.AF_INET6, frame[22:38])
        dst = socket.inet_ntop(socket.AF_INET6, frame[38:54])
        off = 54
    else:
        return None
    if len(frame) < off + 8:
        return None
    sport, dport, length = struct.unpack_from("!HHH", frame, off)
    return WireDatagram(t, src, sport, dst, dport, frame[off + 8:off + max(8, length)])


class UdpTap:
    """Records UDP datagrams to or from ``port`` on lo while open."""

    def __init__(self, port: int):
        self.port = port
        self.datagrams: list[WireDatagram] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._sock.bind(("lo", 0))
        self._sock.settimeout(0.05)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        want = struct.pack("!H", self.port)
        while not self._stop.is_set():
            try:
                frame, ancillary, _flags, addr = self._sock.recvmsg(70000, 64)
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                break
            if addr[2] != PACKET_HOST or want not in frame:
                continue
            t = time.monotonic()
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
                    sec, nsec = struct.unpack_from("qq", data)
                    t -= max(0.0, time.time() - (sec + nsec / 1e9))
            dgram = _parse(frame, t)
            if dgram and self.port in (dgram.sport, dgram.dport):
                with self._cond:
                    self.datagrams.append(dgram)
                    self._cond.notify_all()

    def close(self):
        self._stop.set()
        self._thread.join(1)
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def to_port(self) -> list[WireDatagram]:
        """Datagrams sent to the port (requests), in order."""
        with self._cond:
            return [d for d in self.datagrams if d.dport == self.port]

    def wait_for(self, predicate, timeout: float) -> bool:
        """Wait until ``predicate(self)`` holds, or ``timeout`` passes."""
        end = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def save_pcap(self, path) -> str:
        """The datagrams as a pcap (rebuilt from the recorded fields)."""
        from scapy.layers.inet import IP, UDP
        from scapy.layers.inet6 import IPv6
        from scapy.utils import wrpcap
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._cond:
            packets = [(IPv6(src=d.src, dst=d.dst) if ":" in d.src else IP(src=d.src, dst=d.dst))
                       / UDP(sport=d.sport, dport=d.dport) / d.data for d in self.datagrams]
        wrpcap(str(path), packets)
        return str(path)


def describe(datagrams: list[WireDatagram], server_port: int, limit: int = 10) -> list[str]:
    """tcpdump-like lines: ``0.302  client > server  b'hello' (5 bytes)``."""
    from grader.probes.diff import short
    lines = []
    t0 = datagrams[0].time if datagrams else 0.0
    for d in datagrams[:limit]:
        who = "client > server" if d.dport == server_port else "server > client"
        lines.append(f"{d.time - t0:7.3f}  {who}  {short(d.data, 40)}")
    if len(datagrams) > limit:
        lines.append(f"         … {len(datagrams) - limit} more …")
    return lines
