"""How a stream client ends: at the end of its input it half-closes (its FIN,
seen on the wire, comes then and not before), keeps reading whatever the
server still sends, and exits 0 once the server has closed."""

import time

from grader.checks._client import require_conversation, typed_lines
from grader.engine.check import check, fail
from grader.probes import diff, wire

SHUTDOWN_HINT = ("at end of stdin call sock.shutdown(socket.SHUT_WR): it sends your FIN and keeps the "
                 "receiving half open; never shut down or close the socket before the input ends")
TAIL = (b"and the rest, ", b"sent after your FIN, ", b"in three pieces\n")


def _client_flags(segments, client_port, flag):
    return [s for s in segments if s.sport == client_port and s.flags & flag]


@check("half-closes at end of input: its FIN comes then, and not before", hint=SHUTDOWN_HINT,
       needs_wire=True)
def test_half_closes_at_end_of_input(clients, peers, wire_ok, clock, evidence):
    """The FIN is how a TCP client says "I have nothing more to send". Sent
    too early it cuts the conversation short; never sent, the server waits
    forever for the end of a request that has ended."""
    # The server resets once it has seen the FIN: the client's port then keeps
    # no TIME_WAIT (see client_fixtures), and what follows is not judged here.
    peer = peers.tcp(reset_after_eof=True)
    tap = peers.tcp_tap(peer.port)
    run = clients.start(peer.host, peer.port)
    conv = require_conversation(run, peer, clock(3.0))
    cport = conv.client_port
    typed, expected, typed_at = [], b"", []
    for line in (b"first line", b"second line"):
        typed_at.append(time.monotonic())
        run.type_line(line)
        typed.append(line + b"\n")
        expected += line + b"\n"
        # Pacing on the server's echo: what the client prints is judged elsewhere.
        size = len(expected)
        run.wait_until(lambda: peer.echoed(size), clock(2.0))
    # Give an early FIN (or RST) the time to show.
    tap.wait_for(lambda segs: _client_flags(segs, cport, wire.FIN | wire.RST), clock(0.3))

    def excerpt():
        segments = tap.connection(cport)
        pcap = tap.save_pcap(evidence / "connection.pcap", cport) if segments else None
        return dict(details=[*typed_lines(typed), "on the wire:", *wire.describe(segments, peer.port)],
                    evidence=[pcap] if pcap else [])

    early = _client_flags(tap.connection(cport), cport, wire.FIN | wire.RST)
    if early:
        kind = "RST" if early[0].flags & wire.RST else "FIN"
        lines = sum(1 for t in typed_at if t <= early[0].time)
        fail(f"your client sent its {kind} after {lines} of {len(typed)} typed lines, before the end of input",
             **excerpt())
    run.end_input()
    if not tap.wait_for(lambda segs: _client_flags(segs, cport, wire.FIN | wire.RST), clock(2.0)):
        run.require_implemented()
        fail(f"after end of input, no FIN came from your client within {clock(2.0):.1f} s "
             f"(your client {run.state})",
             **excerpt())
    ending = _client_flags(tap.connection(cport), cport, wire.FIN | wire.RST)[0]
    if ending.flags & wire.RST:
        fail("at end of input your client reset the connection (RST) instead of sending a FIN",
             hint="a RST comes from close() with unread data, or SO_LINGER 0: shutdown(SHUT_WR) first, "
                  "then read until recv returns b''", **excerpt())


@check("after end of input, prints what the server still sends, then exits 0 when it closes",
       hint="after shutdown(SHUT_WR) keep calling recv and printing until it returns b'' (the server "
            "closed); only then close the socket and exit 0; close() or SHUT_RDWR would throw the rest away")
def test_prints_the_rest_after_half_close(clients, peers, clock):
    """A server often answers the end of a request with the rest of its
    reply: an HTTP/1.0 body, a summary, a final status. A client that stops
    reading at its own end of input loses exactly that part."""
    peer = peers.tcp(after_eof=TAIL, pause=0.1)
    run = clients.start(peer.host, peer.port)
    typed = [b"the last line\n"]
    conv = require_conversation(run, peer, clock(3.0))
    run.type(typed[0])
    # Pacing on the server's echo, so that a client that prints only at the
    # end is judged on what it prints by then, not on when.
    run.wait_until(lambda: peer.echoed(len(typed[0])), clock(2.0))
    run.end_input()
    tail = b"".join(TAIL)
    expected = typed[0] + tail
    details = [*typed_lines(typed), "grader> (end of input)"]
    if not run.wait_until(lambda: conv.eof_at is not None, clock(2.0)):
        run.require_implemented()
        fail(f"after end of input, the server never saw your client's end of stream within {clock(2.0):.1f} s, "
             "so it could not send the rest of its reply", hint=SHUTDOWN_HINT, details=details)
    peer.wait(lambda: conv.closed_at is not None, clock(2.0))
    code = run.wait_exit(clock(2.0))
    got = run.output
    details += [f"server, after your FIN> {tail!r} (in {len(TAIL)} pieces, 0.1 s apart), then closed",
                f"client printed> {got!r}"]
    if got != expected:
        if got.startswith(typed[0]) and expected.startswith(got):
            printed = len(got) - len(typed[0])
            ended = "was still running" if code is None else f"exited with status {code}"
            fail(f"after your end of input the server sent {len(tail)} more bytes; your client printed "
                 f"{'none' if not printed else f'only {printed}'} of them and {ended}", details=details)
        fail(f"your client printed {diff.short(got)}, expected {diff.short(expected)}",
             details=details + diff.describe(expected, got))
    if code is None:
        fail(f"the server closed the connection, but your client was still running {clock(2.0):.1f} s later",
             hint="when recv returns b'' the server has closed: leave the loop and exit", details=details)
    if code != 0:
        fail(f"after the server closed the connection your client exited with status {code}, not 0",
             hint="the server closing after your end of input is the normal end: exit 0",
             details=details + run.stderr_excerpt())
