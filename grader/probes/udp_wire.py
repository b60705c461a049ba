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
from dataclasses import dataclass

from grader.probes.wire import LoopbackCapture



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


class UdpTap(LoopbackCapture):
    """Records UDP datagrams to or from ``port`` on lo while open."""

    def __init__(self, port: int):
        self.datagrams: list[WireDatagram] = []
        super().__init__(port, buffer=4 << 20)

    def _record(self, frame: bytes, t: float) -> bool:
        dgram = _parse(frame, t)
        if dgram and self.port in (dgram.sport, dgram.dport):
            self.datagrams.append(dgram)
            return True
        return False

    def to_port(self) -> list[WireDatagram]:
        """Datagrams sent to the port (requests), in order."""
        with self._cond:
            return [d for d in self.datagrams if d.dport == self.port]

    def wait_for(self, predicate, timeout: float) -> bool:
        """Wait until ``predicate(self)`` holds, or ``timeout`` passes."""
        return self._wait_until(lambda: predicate(self), timeout)

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
