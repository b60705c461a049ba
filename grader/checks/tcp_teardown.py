"""How connections end: the server's side ends with a FIN after all its data,
never a RST, and clients that reset or vanish do not bring the server down."""

import socket

from grader.checks._echo import connect, greets, judge
from grader.engine.check import check, fail
from grader.probes import proc, tcp, wire


class _Proof:
    """The wire excerpt and pcap of one connection, saved only for a failure."""

    def __init__(self, tap, segments, server_port, client_port, folder):
        self.tap, self.segments, self.server_port = tap, segments, server_port
        self.client_port, self.folder = client_port, folder

    def kept(self) -> dict:
        pcap = self.tap.save_pcap(self.folder / "connection.pcap", self.client_port) if self.segments else None
        return dict(details=["on the wire:", *wire.describe(self.segments, self.server_port)],
                    evidence=[pcap] if pcap else [])


@check("closes each connection with a FIN after all echoed data, never a RST",
       hint="read until recv returns b'' before close(): closing with unread data, or with SO_LINGER 0, "
            "sends a RST that can destroy data in flight",
       needs_wire=True)
def test_closes_with_fin_after_all_data(server, tap, clock, rng, evidence, params):
    """A FIN says "I am done, and you got everything"; a RST says "forget this
    connection", and the peer may lose data it had not read yet."""
    payload = rng.randbytes(8 * 1024).hex().encode()   # 16 KiB of text: this check judges the ending
    ex = tcp.echo_exchange(server.host, server.port, payload, timeout=clock(5.0), settle=None,
                           greeting=greets(params))
    if ex.refused:
        judge(ex, payload, server, what="the echo before the FIN", clock=clock, timeout_base=5.0)
    segments = tap.server_teardown(ex.local_port, clock(2.0))
    proof = _Proof(tap, segments, server.port, ex.local_port, evidence)
    from_server = [s for s in segments if s.sport == server.port]
    if any(s.flags & wire.RST for s in from_server):
        fail("the server's side of the connection ended with a RST, not a FIN", **proof.kept())
    fins = [s for s in from_server if s.flags & wire.FIN]
    if not fins:
        if not ex.eof and not ex.reset:
            fail(f"after the client's end of stream, the server never closed the connection "
                 f"(waited {clock(5.0):.1f} s)", hint="when recv returns b'', close the connected socket", **proof.kept())
        fail("no FIN from the server was seen on the wire", **proof.kept())
    synack = next((s for s in from_server if s.flags & wire.SYN), None)
    if synack is not None:
        sent_by_server = (fins[0].seq - synack.seq - 1) % 2**32
        owed = len(payload) + len(ex.greeting or b"")
        if sent_by_server < owed:
            fail(f"the server sent its FIN after only {sent_by_server} of {owed} bytes it owed",
                 hint="close only after everything has been echoed: a half-closed client is still reading", **proof.kept())
    judge(ex, payload, server, what="the echo before the FIN", clock=clock, timeout_base=5.0)


def _still_serves(server, clock, after: str, greeting: bool):
    if not server.alive:
        raise server.died_during(after)
    payload = b"are you still there?\n"
    ex = tcp.echo_exchange(server.host, server.port, payload, timeout=clock(3.0), greeting=greeting)
    if not server.alive:
        raise server.died_during(after)
    judge(ex, payload, server, what=f"a new client {after}", clock=clock, timeout_base=3.0)


@check("keeps serving after a client resets its connection",
       hint="wrap each client's recv/sendall loop in try/except ConnectionError (ConnectionResetError, "
            "BrokenPipeError): one client's failure must not end the server")
def test_survives_client_reset(server, clock, params):
    """Clients crash, time out and get killed: on the Internet a RST is a daily
    event, and it must cost one connection, not the whole server."""
    # No data first: the server is then surely blocked in recv on this
    # connection when the RST arrives.
    sock = connect(server, clock)
    if not tcp.wait_accepted(lambda: proc.tree_connections(server.pid), sock.getsockname()[1], clock(2.0)):
        sock.close()
        fail(f"the server did not accept a connection within {clock(2.0):.1f} s")
    tcp.reset_close(sock)
    _still_serves(server, clock, "after another client reset its connection", greets(params))


@check("keeps serving after a client vanishes mid-stream",
       hint="sendall to a client that has gone raises BrokenPipeError or ConnectionResetError: catch "
            "ConnectionError around each client, close its socket and carry on")
def test_survives_client_vanishing(server, clock, params):
    """A client that disappears while the server is still sending makes the
    server's sendall fail; the server must drop that client and carry on."""
    sock = connect(server, clock)
    try:
        sock.settimeout(clock(2.0))
        sock.sendall(b"x" * (2 * 1024 * 1024))
    except (socket.timeout, TimeoutError, OSError):
        pass  # a server that stops reading is judged by the echo below
    sock.close()  # unread echo in our receive queue: the kernel answers with RST
    _still_serves(server, clock, "after another client vanished mid-stream", greets(params))
