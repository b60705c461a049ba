"""What happens on the wire, seen on the loopback with raw sockets and scapy.

A ``Tap`` records the TCP/UDP packets of one port from a raw AF_PACKET socket
on ``lo``. On the loopback every packet is seen twice (once going out, once
coming in); the tap keeps only the incoming copy (PACKET_HOST). Packets are
kept as raw frames and dissected with scapy only when a check asks, so a busy
test does not pay for Python-level dissection of every packet.

Raw sockets need CAP_NET_RAW; without it ``available()`` says why, and checks
that need the wire report themselves as not run, never as passed."""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ETH_P_ALL = 0x0003
PACKET_HOST = 0
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
SO_RCVBUFFORCE = 33          # SO_RCVBUF past net.core.rmem_max (CAP_NET_ADMIN)


def available() -> str | None:
    """None when raw sockets work here, else the reason they do not."""
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.close()
        return None
    except PermissionError:
        return "raw sockets need CAP_NET_RAW, which the grader does not have here"
    except OSError as exc:
        return f"raw sockets are unavailable here: {exc.strerror}"


@dataclass
class Segment:
    """The few fields of a TCP segment a check reasons about."""

    time: float
    src: str
    sport: int
    dst: str
    dport: int
    flags: int
    seq: int
    ack: int
    payload: int
    frame: bytes

    def flag_text(self) -> str:
        names = [(SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P"), (ACK, ".")]
        return "".join(ch for bit, ch in names if self.flags & bit)


def _parse(frame: bytes, t: float) -> Segment | None:
    """Ethernet (lo uses a zeroed Ethernet header) + IPv4/IPv6 + TCP."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    if ethertype == 0x0800:
        ihl = (frame[14] & 0x0F) * 4
        if frame[23] != 6:
            return None
        src = socket.inet_ntop(socket.AF_INET, frame[26:30])
        dst = socket.inet_ntop(socket.AF_INET, frame[30:34])
        total = struct.unpack_from("!H", frame, 16)[0]
        off = 14 + ihl
        ip_payload = total - ihl
    elif ethertype == 0x86DD:
        if frame[20] != 6:
            return None
        src = socket.inet_ntop(socket.AF_INET6, frame[22:38])
        dst = socket.inet_ntop(socket.AF_INET6, frame[38:54])
        ip_payload = struct.unpack_from("!H", frame, 18)[0]
        off = 54
    else:
        return None
    if len(frame) < off + 20:
        return None
    sport, dport, seq, ack, data_off, flags = struct.unpack_from("!HHIIBB", frame, off)
    header = (data_off >> 4) * 4
    return Segment(t, src, sport, dst, dport, flags, seq, ack, ip_payload - header, frame)


class LoopbackCapture:
    """A raw AF_PACKET socket on lo, read by a thread while open.

    Keeps the incoming copy of each frame that mentions ``port`` (PACKET_HOST:
    on lo every packet is also seen going out), stamped with the kernel's
    receive time moved onto the monotonic clock, so gaps are measured right
    even when the grader's threads run late. Subclasses parse and keep what
    they care about in ``_record``."""

    def __init__(self, port: int, *, buffer: int | None = None):
        self.port = port
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        if buffer:
            # Hundreds of connections closing at once overflow the default
            # buffer (about 200 KB) before the reader thread drains it.
            for option in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
                try:
                    self._sock.setsockopt(socket.SOL_SOCKET, option, buffer)
                    break
                except OSError:
                    continue
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
            with self._cond:
                if self._record(frame, t):
                    self._cond.notify_all()

    def _record(self, frame: bytes, t: float) -> bool:
        """Keep what the frame says (called with the lock held); True if kept."""
        raise NotImplementedError

    def _wait_until(self, condition, timeout: float) -> bool:
        end = time.monotonic() + timeout
        with self._cond:
            while not condition():
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def close(self):
        self._stop.set()
        self._thread.join(1)
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Tap(LoopbackCapture):
    """Records TCP segments to or from ``port`` on lo while open."""

    def __init__(self, port: int, *, buffer: int | None = None):
        self.segments: list[Segment] = []
        super().__init__(port, buffer=buffer)

    def _record(self, frame: bytes, t: float) -> bool:
        seg = _parse(frame, t)
        if seg and self.port in (seg.sport, seg.dport):
            self.segments.append(seg)
            return True
        return False

    def connection(self, client_port: int) -> list[Segment]:
        with self._cond:
            return [s for s in self.segments if client_port in (s.sport, s.dport)]

    def wait_for(self, predicate, timeout: float) -> bool:
        """Wait until ``predicate(segments)`` holds, or ``timeout`` passes."""
        return self._wait_until(lambda: predicate(self.segments), timeout)

    def server_teardown(self, client_port: int, timeout: float) -> list[Segment]:
        """Wait for the server's side of one connection to end (FIN or RST from
        the server port) and return that connection's segments."""
        def ended(segs):
            return any(s.sport == self.port and s.dport == client_port and s.flags & (FIN | RST) for s in segs)
        self.wait_for(ended, timeout)
        return self.connection(client_port)

    def save_pcap(self, path: Path, client_port: int | None = None) -> Path:
        from scapy.layers.l2 import Ether
        from scapy.utils import wrpcap
        segs = self.connection(client_port) if client_port else list(self.segments)
        path.parent.mkdir(parents=True, exist_ok=True)
        wrpcap(str(path), [Ether(s.frame) for s in segs])
        return path


def describe(segments: list[Segment], server_port: int, limit: int = 8) -> list[str]:
    """tcpdump-like lines naming who sent what: ``server > client [F.] seq 8193``.
    Handshake and teardown are kept; the data in between is summarised."""
    lines = []
    data_segments = 0
    t0 = segments[0].time if segments else 0.0
    for s in segments:
        who = "server > client" if s.sport == server_port else "client > server"
        if s.flags & (SYN | FIN | RST):
            lines.append(f"{s.time - t0:7.3f}  {who} [{s.flag_text()}] seq {s.seq} len {s.payload}")
        elif s.payload:
            data_segments += 1
    if data_segments:
        lines.insert(min(3, len(lines)), f"         … {data_segments} data segments …")
    return lines[-limit:]


def syn_probe(host: str, port: int, timeout: float, tries: int = 3) -> str | None:
    """Send a raw SYN from an unused port; return the flags of the answer
    (``SA`` for a SYN-ACK, ``RA`` for a refusal) or None if nothing came back.
    Retried because a raw SYN on lo is occasionally not answered."""
    import random

    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.sendrecv import sr1

    for _ in range(tries):
        sport = random.randint(40000, 60000)
        layer = IPv6(dst=host) if ":" in host else IP(dst=host)
        answer = sr1(layer / TCP(sport=sport, dport=port, flags="S", seq=random.randint(0, 2**31)),
                     timeout=timeout, verbose=0)
        if answer is not None and answer.haslayer(TCP):
            return str(answer[TCP].flags)
    return None
