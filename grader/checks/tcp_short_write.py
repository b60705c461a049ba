"""Short writes: on a non-blocking socket, send() takes what fits in the
kernel's send buffer and says how much. A client that reads slowly fills that
buffer, so a server that ignores send()'s count loses bytes. On a blocking
socket the kernel waits instead (PROBING: no short write in 24 runs of 8 MiB),
so this check belongs to the non-blocking katas only."""

import select
import socket
import time

from grader.checks._echo import judge
from grader.engine.check import check
from grader.probes import tcp

SMALL_RCVBUF = 16 * 1024
QUIET = 3.0            # seconds without a byte moving either way: the echo has stalled
MiB = 1024 * 1024


def _slow_reader_exchange(host, port, payload: bytes, *, stall: float, timeout: float,
                          quiet: float) -> tcp.Exchange:
    """Send ``payload`` without reading until the server stops taking it (its
    send buffer toward us is full: from there on its send() is short), then
    read everything while sending the rest, half-close, and read to the end.
    Gives up at ``timeout``, or once nothing moved either way for ``quiet``
    seconds (a server that lost bytes or stalled will not recover)."""
    ex = tcp.Exchange()
    start = time.monotonic()
    deadline = start + timeout
    sock = socket.socket(tcp.family_of(host), socket.SOCK_STREAM)
    # A small receive window: the server's send buffer toward us fills fast.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RCVBUF)
    sock.settimeout(timeout)
    try:
        sock.connect((host, port))
    except ConnectionRefusedError:
        sock.close()
        ex.refused = True
        return ex
    except (TimeoutError, OSError):
        sock.close()
        ex.timed_out, ex.phase = True, "connect"
        return ex
    ex.local_port = sock.getsockname()[1]
    sock.setblocking(False)
    view = memoryview(payload)
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    try:
        # 1: write only, until nothing moves for ``stall`` seconds.
        while ex.sent < len(payload):
            try:
                ex.sent += sock.send(view[ex.sent:ex.sent + 256 * 1024])
                continue
            except BlockingIOError:
                pass
            if not poller.poll(stall * 1000):
                break
        # 2: read everything, writing the rest as the server makes room.
        closed = False
        moved = time.monotonic()
        while True:
            if time.monotonic() >= deadline:
                break
            if ex.sent == len(payload) and not closed:
                sock.shutdown(socket.SHUT_WR)
                closed = True
            mask = select.POLLIN | (0 if closed else select.POLLOUT)
            poller.modify(sock, mask)
            events = poller.poll(max(0.0, min(deadline, moved + quiet) - time.monotonic()) * 1000)
            if not events:
                if time.monotonic() >= moved + quiet:
                    break
                continue
            _, ev = events[0]
            if ev & select.POLLOUT and not closed:
                try:
                    ex.sent += sock.send(view[ex.sent:ex.sent + 256 * 1024])
                    moved = time.monotonic()
                except BlockingIOError:
                    pass
            if ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
                try:
                    chunk = sock.recv(256 * 1024)
                except BlockingIOError:
                    continue
                if not chunk:
                    ex.eof = True
                    break
                ex.received += chunk
                moved = time.monotonic()
                if len(ex.received) > len(payload):
                    break
                if len(ex.received) == len(payload) and closed:
                    # All back: linger a moment for bytes that should not
                    # come; how the connection ends is judged elsewhere.
                    deadline = min(deadline, time.monotonic() + 0.25)
        if not ex.eof and len(ex.received) < len(payload):
            ex.timed_out = True
            ex.phase = "first byte" if not ex.received else "whole reply"
    except (ConnectionResetError, BrokenPipeError):
        ex.reset = True
    finally:
        sock.close()
    ex.elapsed = time.monotonic() - start
    return ex


@check("echoes every byte to a client that reads slowly (short writes)",
       hint="on a non-blocking socket, send() may take only part of the buffer: keep what it did not take "
            "(del buf[:sent]) and send it when the socket is writable again")
def test_echoes_all_to_a_slow_reader(server, clock, rng, params):
    """Real clients read slowly (a phone on a bad network, a busy program):
    a server that assumes send() took everything silently corrupts their
    data."""
    size = int(params.get("slow_reader_payload", 8 * MiB))
    # Text on purpose: binary data is the binary check's job; this one judges lost bytes.
    payload = rng.randbytes(size // 2).hex().encode()
    ex = _slow_reader_exchange(server.host, server.port, payload, stall=clock(0.3), timeout=clock(20.0),
                               quiet=clock(QUIET))
    judge(ex, payload, server, what=f"a {size / MiB:g} MiB payload to a client that reads slowly",
          clock=clock, timeout_base=QUIET,
          shell=f"head -c {size} /dev/urandom > p; (cat p; sleep 5) | nc 127.0.0.1 9000 | pv -L 200k | cmp - p")
