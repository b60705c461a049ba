"""A TCP echo server sends back every byte it receives, unchanged, in order,
as it arrives, to one client after another."""

from grader.checks._echo import greets, judge, try_it
from grader.engine.check import check, fail
from grader.probes import diff, tcp

# Printable on purpose: binary data is the binary check's job, so a server
# that decodes text loses that check, not every echo check.
LINES = [b"hello\n", b"socket katas\n", b"tabs\tand CRLF\r\n"]


@check("echoes each line as it arrives, before the client's end of stream",
       hint="echo each chunk as soon as recv returns it: do not wait for the client to close first")
def test_echoes_as_data_arrives(server, clock, params):
    """Interactive protocols (a chat, a shell, HTTP keep-alive) depend on
    replies that flow while the connection is open, not after it ends."""
    timeout = clock(2.0)
    try:
        sock = tcp.connect(server.host, server.port, timeout)
    except OSError as exc:
        fail(f"could not connect to {server.hostport}: {exc.strerror or exc}",
             hint="the server is not listening (any more) on that address and port")
    with sock:
        exchange = []
        if greets(params):
            line, outcome = tcp.read_line(sock, timeout)
            exchange.append(f"server> {line!r}")
            if outcome != "ok":
                fail(f"expected a greeting line first, got {line!r} ({outcome})", details=exchange,
                     hint="send the one-line greeting as soon as accept() returns, then echo")
        for line in LINES:
            got, seconds, outcome = tcp.round_trip(sock, line, timeout)
            exchange += [f"grader> {line!r}", f"server> {got!r}"]
            details = [try_it(server, "nc 127.0.0.1 9000, then type a line: it should come back at once"),
                       *exchange]
            if outcome == "timeout":
                fail(f"sent {line!r} and waited {timeout:.1f} s: "
                     + ("nothing came back" if not got else f"only {got!r} came back"),
                     details=details)
            if outcome in ("eof", "reset"):
                fail(f"sent {line!r}: the server {'closed' if outcome == 'eof' else 'reset'} the connection "
                     f"after {len(got)} bytes", hint="keep the connection open until the client closes it",
                     details=details)
            if got != line:
                fail(f"sent {line!r}, received {got!r}", details=details + diff.describe(line, got))
        extra = tcp.read_more(sock, min(0.2, timeout))
        if extra:
            fail(f"after the echoes, the server sent {len(extra)} more bytes nobody asked for: "
                 f"{diff.short(extra)}", hint="send back exactly the bytes received, nothing more")


@check("echoes binary data exactly, all 256 byte values included",
       hint="treat the data as bytes: no decode/encode, no strip(), no line handling")
def test_echoes_binary_exactly(server, clock, rng, params):
    """Sockets carry bytes, not text: a server that decodes, strips or splits
    lines corrupts images, archives and every binary protocol."""
    payload = bytes(range(256)) * 4 + rng.randbytes(60_000)
    ex = tcp.echo_exchange(server.host, server.port, payload, timeout=clock(5.0), greeting=greets(params))
    judge(ex, payload, server, what=f"{len(payload)} bytes of binary data", clock=clock, timeout_base=5.0,
          shell="head -c 61440 /dev/urandom > p; nc -N 127.0.0.1 9000 < p | cmp - p")


@check("echoes an 8 MiB payload exactly (short reads and writes)",
       hint="recv returns whatever has arrived, often much less than was sent: loop on recv until b'', "
            "and use sendall, not send")
def test_echoes_large_payload(server, clock, rng, params):
    """Large transfers arrive in many pieces of unpredictable size; a program
    that assumes one recv holds the message works on small tests and fails in
    real use."""
    size = params.get("large_payload", 8 * 1024 * 1024)
    payload = rng.randbytes(size)
    ex = tcp.echo_exchange(server.host, server.port, payload, timeout=clock(20.0), greeting=greets(params))
    judge(ex, payload, server, what=f"a {size >> 20} MiB payload", clock=clock, timeout_base=20.0,
          shell=f"head -c {size} /dev/urandom > p; nc -N 127.0.0.1 9000 < p | cmp - p")


@check("serves clients one after another",
       hint="after a client leaves, close its socket and go back to accept() on the same listening socket")
def test_serves_clients_one_after_another(server, clock, rng, params):
    """A server lives longer than a connection: the accept loop is what makes
    it a server rather than a one-shot program."""
    for n in range(1, 21):
        payload = f"client {n}: {rng.randbytes(16).hex()}\n".encode()
        ex = tcp.echo_exchange(server.host, server.port, payload, timeout=clock(3.0), greeting=greets(params))
        if ex.refused and not server.alive:
            fail(f"client {n} was refused: {server.program.death_notice('after serving ' + str(n - 1) + ' clients')}",
                 hint="loop around accept(): one client leaving must not end the server",
                 details=server.program.stderr_excerpt())
        judge(ex, payload, server, what=f"client {n} of 20", clock=clock, timeout_base=3.0)
