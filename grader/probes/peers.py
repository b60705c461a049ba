"""Servers the grader runs itself, for the client katas (kata2, kata4).

Rule 1: a peer is fully under the grader's control. It runs in threads of the
grader's own process, on a loopback address of the grading namespace, and
records what it saw (bytes, the client's end of stream, datagrams and their
senders) with the time it saw it, so a check can tell what the learner's
client did without trusting what the client printed.

Rule 2: behaviours are parameters, not subclasses: an echo server that
dribbles each reply a few bytes at a time (``piece``, ``pause``), keeps
talking after the client's half-close (``after_eof``), drops the first
datagrams of each message (``drop_first``) or never answers (``silent``).
``Spoofer`` sends datagrams from addresses and ports nobody owns (scapy).

Rule 3: every wait has a deadline, and ``close()`` ends every thread and
socket of the peer.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from grader.engine.servers import free_port

TICK = 0.05


def family_of(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Peer:
    """What TCP and UDP peers share: an address, threads, a condition to wait on."""

    def __init__(self, host: str):
        self.host = host
        self.port = 0
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def hostport(self) -> str:
        return hostport(self.host, self.port)

    def _spawn(self, target, *args):
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def wait(self, predicate, timeout: float) -> bool:
        """Wait until ``predicate()`` holds, or ``timeout`` seconds pass."""
        end = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, TICK))
            return True

    def close(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- TCP ----------------------------------------------------------------------

@dataclass
class Conversation:
    """One connection a TcpPeer accepted, as the server saw it."""

    client: tuple
    accepted_at: float
    received: bytearray = field(default_factory=bytearray)
    sent: bytearray = field(default_factory=bytearray)
    eof_at: float | None = None         # the client's FIN arrived (recv returned b"")
    reset: bool = False                 # the client reset the connection
    closed_at: float | None = None      # this server closed its side (FIN)

    @property
    def client_port(self) -> int:
        return self.client[1]


class TcpPeer(_Peer):
    """A TCP echo server in threads: every byte received is sent back.

    ``piece``/``pause``: each reply goes out ``piece`` bytes at a time with
    ``pause`` seconds between pieces (a dribbler). ``after_eof``: chunks sent,
    ``pause`` apart, after the client's end of stream and before this server
    closes its side. ``reset_after_eof``: the server's side ends with a RST
    instead (the client's socket then leaves no TIME_WAIT behind)."""

    def __init__(self, host: str = "127.0.0.1", *, piece: int | None = None, pause: float = 0.0,
                 after_eof: tuple[bytes, ...] = (), reset_after_eof: bool = False):
        super().__init__(host)
        self.piece, self.pause, self.after_eof = piece, pause, tuple(after_eof)
        self.reset_after_eof = reset_after_eof
        self.conversations: list[Conversation] = []
        self._conns: list[socket.socket] = []
        self._listener = socket.socket(family_of(host), socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = free_port(host)
        self._listener.bind((host, self.port))
        self._listener.listen(16)
        self._listener.settimeout(TICK)
        self._spawn(self._accept_loop)

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, client = self._listener.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                break
            conv = Conversation(client=client, accepted_at=time.monotonic())
            with self._cond:
                self.conversations.append(conv)
                self._conns.append(conn)
                self._cond.notify_all()
            self._spawn(self._serve, conn, conv)
        self._listener.close()

    def _send(self, conn, conv, data: bytes, piece: int | None):
        step = piece or len(data) or 1
        for at in range(0, len(data), step):
            if at and self.pause and self._stop.wait(self.pause):
                return
            conn.sendall(data[at:at + step])
            with self._cond:
                conv.sent += data[at:at + step]
                self._cond.notify_all()

    def _serve(self, conn: socket.socket, conv: Conversation):
        conn.settimeout(TICK)
        try:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except (socket.timeout, TimeoutError):
                    continue
                if not data:
                    with self._cond:
                        conv.eof_at = time.monotonic()
                        self._cond.notify_all()
                    for n, chunk in enumerate(self.after_eof):
                        if n and self._stop.wait(self.pause):
                            return
                        self._send(conn, conv, chunk, None)
                    if self.reset_after_eof:
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
                with self._cond:
                    conv.received += data
                self._send(conn, conv, data, self.piece)
        except OSError:
            with self._cond:
                conv.reset = True
        finally:
            conn.close()
            with self._cond:
                conv.closed_at = time.monotonic()
                self._cond.notify_all()

    def hang_up(self) -> None:
        """Close every open connection from the server's side (FIN), now."""
        with self._cond:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def echoed(self, nbytes: int, index: int = 0) -> bool:
        """Whether the ``index``-th conversation has sent ``nbytes`` back yet."""
        with self._cond:
            return len(self.conversations) > index and len(self.conversations[index].sent) >= nbytes

    def close(self):
        super().close()
        try:
            self._listener.close()
        except OSError:
            pass


# -- UDP ----------------------------------------------------------------------

@dataclass
class Datagram:
    time: float
    data: bytes
    sender: tuple
    answered: bool


class UdpPeer(_Peer):
    """A UDP echo server in a thread, bound to ``host`` on a free port.

    ``drop_first``: the first N datagrams carrying a given payload are
    dropped on purpose (no reply); later copies are echoed. ``silent``: bound,
    reads everything, never answers."""

    def __init__(self, host: str = "127.0.0.1", *, drop_first: int = 0, silent: bool = False):
        super().__init__(host)
        self.drop_first, self.silent = drop_first, silent
        self.datagrams: list[Datagram] = []
        self._seen: dict[bytes, int] = {}
        self._sock = socket.socket(family_of(host), socket.SOCK_DGRAM)
        self.port = free_port(host)
        self._sock.bind((host, self.port))
        self._sock.settimeout(TICK)
        self._spawn(self._loop)

    def _loop(self):
        while not self._stop.is_set():
            try:
                data, sender = self._sock.recvfrom(65535)
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                continue
            count = self._seen.get(data, 0) + 1
            self._seen[data] = count
            answer = not self.silent and count > self.drop_first
            with self._cond:
                self.datagrams.append(Datagram(time.monotonic(), data, sender, answer))
                self._cond.notify_all()
            if answer:
                try:
                    self._sock.sendto(data, sender)
                except OSError:
                    pass
        self._sock.close()


class Spoofer:
    """Sends UDP datagrams with a forged source address and port: what a
    stranger on the network could send. The packets are built with scapy
    beforehand and go out through one raw socket (IPPROTO_RAW: the header is
    ours), so each send takes microseconds, not scapy's milliseconds.
    Needs CAP_NET_RAW. On the loopback any 127.0.0.x is deliverable."""

    def __init__(self):
        self._socks: dict[int, socket.socket] = {}

    @staticmethod
    def packet(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
        from scapy.layers.inet import IP, UDP
        from scapy.layers.inet6 import IPv6
        layer = IPv6(src=src, dst=dst) if ":" in dst else IP(src=src, dst=dst)
        return bytes(layer / UDP(sport=sport, dport=dport) / payload)

    def send(self, dst: str, packet: bytes) -> None:
        family = family_of(dst)
        if family not in self._socks:
            self._socks[family] = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self._socks[family].sendto(packet, (dst, 0))

    def close(self):
        for sock in self._socks.values():
            sock.close()
        self._socks.clear()
