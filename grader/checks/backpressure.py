"""Back-pressure: a client that sends far more than it reads must make the
server stop reading from it, so that the client's own sends block, instead
of the server's memory growing without bound. And slowing a client down is
no excuse for losing its bytes: once it reads, every byte comes back, in
order.

How it is judged (KATAS "Numbers the checks use"): one client tries to push
``hog_bytes`` (course.toml, 256 MiB) without reading, for at most PUSH_FOR
seconds; the server's RSS, sampled from /proc while it pushes, may grow by at
most ``hog_growth_mb`` (64 MiB). The push ends when the client's sends stop
moving (STALL: the server stopped reading), when the cap or the time box is
reached, or as soon as the growth is over the limit (the verdict is known).
Then the client half-closes and reads everything back, checked piece by
piece against the seeded stream (probes/stream.py): the grader never holds
the payload."""

from __future__ import annotations

import select
import socket
import time

from grader.checks._echo import connect
from grader.engine.check import check, fail
from grader.probes import proc, stream

MiB = 1024 * 1024
PIECE = 256 * 1024
STALL = 0.5            # s without progress: the server stopped reading (stretched)
PUSH_FOR = 10.0        # s, the push's time box (stretched)
RSS_EVERY = 0.02       # s between RSS samples
READ_BACK = 5.0        # s, plus 1 s per READ_RATE bytes (stretched)
READ_RATE = 32 * MiB
SETTLE = 0.25          # s after the whole echo, for bytes that should not come
HINT = ("once a client's unsent echo passes a high-water mark (256 KiB, say), stop reading from it: drop "
        "EVENT_READ until the buffer drains (asyncio: await writer.drain() after each write)")


class _Push:
    """What the push phase came to."""

    def __init__(self):
        self.sent = 0
        self.peak = 0
        self.ended = ""        # stalled, cap, time box, growth, reset
        self.seconds = 0.0


def _push(sock, data: stream.Stream, cap: int, limit: int, before: int, pid: int, clock) -> _Push:
    push = _Push()
    sock.setblocking(False)
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    start = time.monotonic()
    box, stall = start + clock(PUSH_FOR), clock(STALL)
    next_rss = 0.0
    piece = data.at(0, PIECE)
    while True:
        now = time.monotonic()
        if now >= next_rss:
            push.peak = max(push.peak, proc.rss_bytes(pid))
            next_rss = now + RSS_EVERY
            if push.peak - before > limit:
                push.ended = "growth"
                break
        if push.sent >= cap:
            push.ended = "cap"
            break
        if now >= box:
            push.ended = "time box"
            break
        try:
            n = sock.send(piece[:cap - push.sent])
        except BlockingIOError:
            # Wait for room, sampling RSS meanwhile; no room for ``stall`` s: stalled.
            waited_from = time.monotonic()
            while not poller.poll(RSS_EVERY * 1000):
                push.peak = max(push.peak, proc.rss_bytes(pid))
                if time.monotonic() - waited_from >= stall or time.monotonic() >= box:
                    break
            else:
                continue
            push.ended = "stalled" if time.monotonic() - waited_from >= stall else "time box"
            break
        except (ConnectionResetError, BrokenPipeError):
            push.ended = "reset"
            break
        push.sent += n
        piece = piece[n:] if n < len(piece) else data.at(push.sent, PIECE)
    # What the server holds once the client stopped: it may still be reading.
    push.peak = max(push.peak, proc.rss_bytes(pid))
    push.seconds = time.monotonic() - start
    return push


def _read_back(sock, verifier: stream.Verifier, want: int, timeout: float) -> str:
    """Read until ``want`` bytes came (then SETTLE more, for bytes that should
    not come), EOF, a reset, or the deadline. Returns how it ended: all, eof,
    reset, timeout, extra. How the connection ends is the teardown checks'
    business: all bytes and no FIN is "all"."""
    deadline = time.monotonic() + timeout
    sock.setblocking(True)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "all" if verifier.received == want else "timeout"
            sock.settimeout(left)
            chunk = sock.recv(1 << 20)
            if not chunk:
                return "all" if verifier.received == want else "eof"
            verifier.feed(chunk)
            if verifier.received > want:
                return "extra"
            if verifier.received == want:
                deadline = min(deadline, time.monotonic() + SETTLE)
    except (socket.timeout, TimeoutError):
        return "all" if verifier.received == want else "timeout"
    except OSError:
        return "all" if verifier.received == want else "reset"


@check("stops reading from a client that sends without reading (memory stays bounded), and loses no byte",
       hint=HINT, timeout=60.0)
def test_applies_back_pressure(server, clock, rng, params):
    """A server that reads everything a client sends, whether or not the
    client reads its echo, lets one rude client make it hoard memory until
    it is killed. Back-pressure passes the slowness back to its source: the
    kernel's receive window fills and the client's own send blocks."""
    cap = int(params.get("hog_bytes", 256 * MiB))
    limit = int(params.get("hog_growth_mb", 64)) * MiB
    before = proc.rss_bytes(server.pid)
    if not before:
        server.require_alive("before the test began")
    data = stream.Stream(rng)
    sock = connect(server, clock)
    try:
        push = _push(sock, data, cap, limit, before, server.pid, clock)
        growth = push.peak - before
        pushed = f"{push.sent / MiB:,.1f} MiB"
        memory = [f"server RSS: {before / MiB:,.0f} MiB before, {push.peak / MiB:,.0f} MiB at most "
                  f"(sampled every {RSS_EVERY * 1000:.0f} ms)",
                  f"grader> sent {push.sent:,} bytes in {push.seconds:.2f} s without reading, then "
                  + {"growth": "stopped: the limit was passed", "stalled": "its sends blocked",
                     "cap": "stopped at the cap", "time box": "stopped at the time box",
                     "reset": "the connection was reset"}[push.ended]]
        if growth > limit:
            still = " and was still growing when the grader stopped" if push.ended == "growth" else ""
            fail(f"while a client sent {pushed} without reading its echo, the server's memory grew by "
                 f"{growth / MiB:,.0f} MiB{still} (allowed: {limit / MiB:,.0f} MiB): it kept reading and buffering",
                 details=memory)
        if push.ended == "reset":
            server.require_alive("while a client sent without reading")
            fail(f"while a client sent without reading its echo, the server reset the connection after "
                 f"{pushed}", hint="slow the client down (stop reading from it), do not drop it",
                 details=memory)
        # Now the client reads: everything it sent must come back, in order.
        verifier = stream.Verifier(data)
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        timeout = clock(READ_BACK + push.sent / READ_RATE)
        ended = _read_back(sock, verifier, push.sent, timeout)
    finally:
        sock.close()
    if verifier.exact and ended == "all":
        return
    server.require_alive("while the client read its echo back")
    lines = memory + verifier.describe(push.sent)
    got = f"{verifier.received:,} of {push.sent:,} bytes"
    if not verifier.exact:
        fail(f"after sending {pushed} without reading, the client read its echo: it differs from what was "
             f"sent at offset {verifier.mismatch:,}",
             hint="keep each client's unsent echo in order: append what you read, send from the front",
             details=lines)
    if ended == "extra":
        fail(f"after sending {pushed} without reading, the client read back more than it sent",
             hint="send back exactly the bytes received, once", details=lines)
    if ended == "reset":
        fail(f"after sending {pushed} without reading, the client read back {got}, then the connection "
             f"was reset", details=lines,
             hint="a RST throws away the echo still in flight: never drop a slow client (stop reading from it "
                  "instead), and close with a FIN, not SO_LINGER 0")
    if ended == "eof":
        fail(f"after sending {pushed} without reading, the client read back only {got} before the server "
             f"closed the connection", hint="close only after everything has been echoed", details=lines)
    fail(f"after sending {pushed} without reading, the client read back {got}, then waited {timeout:.1f} s "
         "for the rest", hint="start reading from a client again once its buffer drains", details=lines)
