"""A stream client prints what the server sends as it arrives: reply by
reply while the person at the keyboard is still typing, whole however the
server cuts it, and through a pipe as promptly as on a terminal."""

from grader.checks._client import (SERVER_TCP, expect_output, missing_output, require_conversation, try_it,
                                  typed_lines)
from grader.engine.check import check, fail
from grader.probes import diff

LINES = [b"hello", b"socket katas", b"printable ASCII: 0123456789 !#$%&()*+,-./:;<=>?@[]^_{|}~"]
DRIBBLED = [b"dribbled, three bytes at a time", b"short", b"the last one, also in pieces"]

TRY_TERMINAL = try_it(SERVER_TCP, "python client.py --host 127.0.0.1 --port 9000, and type a line")
TRY_PIPE = try_it(SERVER_TCP, "(echo hello; sleep 2; echo world) | python client.py --host 127.0.0.1 --port 9000 | cat")
ARRIVAL_HINT = ("print every chunk as soon as recv returns it: read stdin and the socket in two threads "
                "(or watch both with select), so a reply is printed while stdin is silent")


def _converse(run, peer, lines: list[bytes], clock, what: str):
    typed, expected = [], b""
    for line in lines:
        sent = line + b"\n"
        run.type_line(line)
        typed.append(sent)
        expected += sent
        size = len(expected)
        expect_output(run, expected, timeout=clock(2.0), typed=typed, host=peer.host, hint=ARRIVAL_HINT,
                      what=f"{what}, typed {sent!r}", answered=lambda: peer.echoed(size), shell=TRY_TERMINAL)


@check("prints each reply as it arrives, before the next line is typed (IPv4 and IPv6)", hint=ARRIVAL_HINT)
def test_prints_replies_as_they_arrive(clients, peers, clock):
    """A client is a conversation, not a batch job: a person types a line and
    waits for the answer before typing the next. Output held back until the
    end (or until the next line) makes the program useless interactively."""
    for host in ("127.0.0.1", "::1"):
        peer = peers.tcp(host)
        run = clients.start(host, peer.port)
        require_conversation(run, peer, clock(3.0), prefix=f"with --host {host}, ")
        _converse(run, peer, LINES, clock, "talking to an echo server")
        peer.close()    # the server hangs up first: see client_fixtures
        run.stop()


@check("prints a reply whole when the server sends it a few bytes at a time",
       hint="one recv is not one reply: recv returns whatever has arrived (here three bytes); keep receiving "
            "and printing until recv returns b''")
def test_prints_dribbled_replies_whole(clients, peers, clock):
    """TCP is a byte stream: a reply arrives in pieces of any size, at any
    pace. A client that counts on one recv per line shows half replies, or
    replies one line late."""
    peer = peers.tcp(piece=3, pause=0.02)
    run = clients.start(peer.host, peer.port)
    typed = []
    for line in DRIBBLED:
        run.type_line(line)
        typed.append(line + b"\n")
    expected = b"".join(typed)
    sent_all = lambda: bool(peer.conversations) and len(peer.conversations[0].sent) >= len(expected)  # noqa: E731
    run.wait_until(sent_all, clock(3.0) + 0.02 * len(expected))
    if run.wait_for(expected, clock(0.5)) and run.output == expected:
        return
    # Not all there yet: maybe it prints once the conversation is over. End
    # the input and give it until it exits.
    run.end_input()
    run.wait_exit(clock(2.0))
    got = run.output
    if got == expected:
        return
    if not peer.conversations:
        raise missing_output(run, expected, timeout=clock(3.0), typed=typed, what="nothing connected")
    lines = [*typed_lines(typed), f"server sent, 3 bytes every 20 ms> {bytes(peer.conversations[0].sent)!r}",
             f"client printed> {got!r}", *diff.describe(expected, got)]
    if got and expected.startswith(got):
        fail(f"the server sent its {len(expected)}-byte replies 3 bytes at a time; your client printed "
             f"only the first {len(got)} bytes", details=lines)
    fail(f"the server sent its replies 3 bytes at a time; your client printed {diff.short(got)}",
         details=lines)


@check("prints each reply as it arrives when its output is a pipe, not a terminal",
       hint="flush after every write (sys.stdout.buffer.write(data); sys.stdout.flush()): into a pipe Python "
            "holds output in a buffer until it is full or the program ends")
def test_flushes_output_through_a_pipe(clients, peers, clock):
    """Clients run in scripts and pipelines (``client | tee log``) as often as
    on a terminal. On a terminal Python flushes at each newline; into a pipe
    it waits for 8 KiB, so output that is never flushed arrives all at once,
    at the end."""
    peer = peers.tcp()
    run = clients.start(peer.host, peer.port, terminal=False)
    typed, expected = [], b""
    for line in LINES[:2]:
        sent = line + b"\n"
        run.type_line(line)
        typed.append(sent)
        expected += sent
        if run.wait_for(expected, clock(2.0)):
            continue
        failure = missing_output(run, expected, timeout=clock(2.0), typed=typed,
                                 what=f"with stdout a pipe, typed {sent!r}", answered=peer.echoed(len(expected)),
                                 shell=TRY_PIPE)
        if run.alive and not run.output:
            run.end_input()
            run.wait_exit(clock(2.0))
            if run.output.startswith(expected):
                failure.details.append(f"client printed, only when it exited> {run.output!r}")
                failure.message += "; it all came out only when the program ended"
        raise failure
