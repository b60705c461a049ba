"""An instructor's own checks for the echo katas (kata1, kata5-kata8, kata11).

Pass this folder to the grader with ``--checks examples/instructor_checks``:
its checks run after the kata's own, with the same fixtures (``server``,
``clock``, ``rng``, ...) and on the same scorecard. A check id that is not in
``katas/course.toml`` takes its points from ``@check(points=...)``.

``hidden=True``: the points count, but the learner's report shows only the
check's name and whether it passed, not what was sent or the hint, until the
instructor reveals it (``--reveal``; on Gradescope: visible after the due date).
"""

from grader.engine.check import check, fail
from grader.probes import tcp


@check("echoes ten lines sent in one write, all of them, in order", points=2,
       hint="loop on recv: one recv may return several lines, or part of one")
def test_echoes_pipelined_lines(server, clock):
    """Clients pipeline: a chat client may send several lines in one write,
    and a server that answers only the first one loses the rest."""
    payload = b"".join(b"line %d\n" % i for i in range(10))
    ex = tcp.echo_exchange(server.host, server.port, payload, timeout=clock(3.0))
    if ex.data != payload:
        fail(f"sent 10 lines ({len(payload)} bytes) in one write, received {len(ex.data)} bytes back",
             details=[f"grader> {payload[:40]!r}...", f"server> {ex.data[:40]!r}"])


@check("echoes 200 one-byte writes, every byte in order", points=3, hidden=True,
       hint="echo whatever recv returns, however small, and keep the connection open until EOF")
def test_echoes_many_tiny_writes(server, clock, rng):
    """Interactive clients (telnet, a terminal) send one keystroke per
    segment; an echo server must not wait for a full line or buffer."""
    payload = bytes(rng.randrange(256) for _ in range(200))
    sock = tcp.connect(server.host, server.port, clock(2.0))
    with sock:
        got = bytearray()
        for i, byte in enumerate(payload):
            back, _, outcome = tcp.round_trip(sock, bytes([byte]), clock(2.0))
            got += back
            if outcome != "ok" or back != bytes([byte]):
                fail(f"write {i + 1} of 200 (one byte, {bytes([byte])!r}): got {back!r} back ({outcome})",
                     details=[f"grader> {bytes([byte])!r}", f"server> {back!r}"])
