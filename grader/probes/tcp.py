"""A TCP client toolkit for probing servers, as a careful peer would.

Every read has a deadline and a byte cap: a server that stalls, truncates or
floods is observed, never waited on forever. Errors become fields of the
result (``reset``, ``refused``, ``timed_out``) instead of exceptions, so a
check can say what it saw in the learner's words."""

from __future__ import annotations

import errno
import selectors
import socket
import struct
import time
from dataclasses import dataclass, field


def family_of(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


@dataclass
class Exchange:
    """What one conversation with the server looked like."""

    sent: int = 0
    received: bytearray = field(default_factory=bytearray)
    eof: bool = False           # the server's FIN arrived (recv returned b"")
    reset: bool = False         # ECONNRESET / EPIPE
    refused: bool = False
    timed_out: bool = False
    phase: str = ""             # where a timeout happened: connect, first byte, whole reply
    elapsed: float = 0.0
    local_port: int = 0
    first_byte_after: float | None = None
    greeting: bytes | None = None   # the line a greeting server sent first (echo_exchange(greeting=True))

    @property
    def data(self) -> bytes:
        return bytes(self.received)


def connect(host: str, port: int, timeout: float, *, source: str | None = None) -> socket.socket:
    sock = socket.socket(family_of(host), socket.SOCK_STREAM)
    sock.settimeout(timeout)
    if source:
        sock.setsockopt(socket.SOL_IP, 24, 1)  # IP_BIND_ADDRESS_NO_PORT: pick the port at connect
        sock.bind((source, 0))
    try:
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def reset_close(sock: socket.socket) -> None:
    """Close with SO_LINGER {1, 0}: the kernel sends RST instead of FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def echo_exchange(host: str, port: int, payload: bytes, *, timeout: float, half_close: bool = True,
                  extra: int = 64 * 1024, settle: float | None = 0.25, greeting: bool = False) -> Exchange:
    """Send ``payload`` while reading whatever comes back, then (optionally)
    half-close and read until EOF, reset, the deadline, ``len(payload) +
    extra`` bytes, or ``settle`` seconds after the whole echo came back
    (None: wait for EOF). Writing and reading are interleaved so that a server that
    echoes as it goes is never blocked by our full receive buffer.

    ``greeting``: the server speaks first with one line (kata9); it is read
    before anything is sent, kept in ``ex.greeting`` and not counted as echo.
    If it never comes, the exchange ends with ``phase == "greeting"``."""
    ex = Exchange()
    start = time.monotonic()
    deadline = start + timeout
    try:
        sock = connect(host, port, timeout)
    except ConnectionRefusedError:
        ex.refused = True
        ex.elapsed = time.monotonic() - start
        return ex
    except (socket.timeout, TimeoutError):
        ex.timed_out, ex.phase = True, "connect"
        ex.elapsed = time.monotonic() - start
        return ex
    except OSError as exc:
        ex.reset = exc.errno in (errno.ECONNRESET, errno.EPIPE)
        ex.refused = not ex.reset
        return ex
    ex.local_port = sock.getsockname()[1]
    if greeting:
        line, outcome = read_line(sock, deadline - time.monotonic())
        if outcome != "ok":
            ex.timed_out, ex.eof, ex.reset = outcome == "timeout", outcome == "eof", outcome == "reset"
            ex.phase = "greeting"
            ex.received += line
            ex.elapsed = time.monotonic() - start
            sock.close()
            return ex
        ex.greeting = line
    cap = len(payload) + extra
    sock.setblocking(False)
    view = memoryview(payload)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if payload else 0))
    if not payload and half_close:
        sock.shutdown(socket.SHUT_WR)
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                ex.timed_out = True
                ex.phase = "first byte" if not ex.received else "whole reply"
                break
            events = sel.select(deadline - now)
            for _key, mask in events:
                if mask & selectors.EVENT_WRITE and ex.sent < len(payload):
                    try:
                        ex.sent += sock.send(view[ex.sent:ex.sent + 256 * 1024])
                    except BlockingIOError:
                        pass
                    if ex.sent == len(payload):
                        sel.modify(sock, selectors.EVENT_READ)
                        if half_close:
                            sock.shutdown(socket.SHUT_WR)
                if mask & selectors.EVENT_READ:
                    try:
                        chunk = sock.recv(min(1 << 20, cap + 1 - len(ex.received)))
                    except BlockingIOError:
                        continue
                    if not chunk:
                        ex.eof = True
                        break
                    if ex.first_byte_after is None:
                        ex.first_byte_after = time.monotonic() - start
                    ex.received += chunk
            if ex.eof or len(ex.received) > cap:
                break
            if ex.sent == len(payload) and len(ex.received) >= len(payload) and settle is not None:
                # Everything came back: linger a moment for bytes that should
                # not come (or the EOF that should), then stop.
                deadline = min(deadline, time.monotonic() + settle)
                settle = None
    except (ConnectionResetError, BrokenPipeError):
        ex.reset = True
    except OSError as exc:
        # ENOTCONN: shutdown() on a connection the peer has already reset.
        if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN):
            ex.reset = True
        else:
            raise
    finally:
        sel.close()
        sock.close()
    ex.elapsed = time.monotonic() - start
    return ex


def round_trip(sock: socket.socket, message: bytes, timeout: float) -> tuple[bytes, float, str]:
    """Send one message on an open connection and read until as many bytes
    came back, the deadline passes, or the connection ends. Returns (data,
    seconds, outcome) with outcome one of ok, eof, reset, timeout."""
    start = time.monotonic()
    deadline = start + timeout
    got = bytearray()
    try:
        sock.sendall(message)
        while len(got) < len(message):
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(got), time.monotonic() - start, "timeout"
            sock.settimeout(left)
            chunk = sock.recv(len(message) - len(got))
            if not chunk:
                return bytes(got), time.monotonic() - start, "eof"
            got += chunk
    except (socket.timeout, TimeoutError):
        return bytes(got), time.monotonic() - start, "timeout"
    except (ConnectionResetError, BrokenPipeError):
        return bytes(got), time.monotonic() - start, "reset"
    return bytes(got), time.monotonic() - start, "ok"


def read_line(sock: socket.socket, timeout: float, cap: int = 256) -> tuple[bytes, str]:
    """Read one line (through its newline) and not a byte more, for a server
    that speaks first. Returns (what was read, outcome): ok, eof, reset,
    timeout, or long (``cap`` bytes and no newline)."""
    got = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while len(got) < cap:
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(got), "timeout"
            sock.settimeout(left)
            # Peek first, so that echo bytes after the line stay in the queue.
            chunk = sock.recv(cap - len(got), socket.MSG_PEEK)
            if not chunk:
                return bytes(got), "eof"
            end = chunk.find(b"\n")
            got += sock.recv(len(chunk) if end < 0 else end + 1)
            if end >= 0:
                return bytes(got), "ok"
    except (socket.timeout, TimeoutError):
        return bytes(got), "timeout"
    except (ConnectionResetError, BrokenPipeError):
        return bytes(got), "reset"
    return bytes(got), "long"


def read_more(sock: socket.socket, wait: float, cap: int = 4096) -> bytes:
    """Whatever arrives within ``wait`` seconds (up to ``cap`` bytes): for
    making sure nothing more than the expected reply was sent."""
    got = bytearray()
    deadline = time.monotonic() + wait
    try:
        while len(got) < cap:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            chunk = sock.recv(cap - len(got))
            if not chunk:
                break
            got += chunk
    except (socket.timeout, TimeoutError, OSError):
        pass
    return bytes(got)


def wait_accepted(pid_tree_connections, client_port: int, timeout: float) -> bool:
    """Wait until the server's process tree holds a connected socket whose
    peer is ``client_port``: proof that accept() returned it, without relying
    on the server echoing anything."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(c.raddr and c.raddr.port == client_port for _, c in pid_tree_connections()):
            return True
        time.sleep(0.005)
    return False
