"""A client's own address: the kernel picks an ephemeral port for it at
connect (TCP) or at the first sendto (UDP), a different one each run. A
port's range alone proves nothing (PROBING.md): two runs are compared, and
each must lie in this machine's ephemeral range."""

from grader.checks._client import datagrams, ephemeral_range, require_conversation
from grader.engine.check import check, fail
from grader.probes import wire

BIND_HINT = ("do not bind() a client socket: connect() (or the first sendto) lets the kernel pick a free "
             "ephemeral port, a new one each run")


def _judge_ports(ports: list[int], what: str) -> None:
    low, high = ephemeral_range()
    for n, port in enumerate(ports, 1):
        if not low <= port <= high:
            fail(f"run {n} of your client {what} from port {port}, outside the ephemeral range {low}–{high}: "
                 "it chose its port itself")
    if len(set(ports)) < len(ports):
        fail(f"two runs of your client both {what} from port {ports[0]}: the kernel would have picked a new "
             "port for each run, so it was bound on purpose")


def _handshake(segments, client_port: int, server_port: int) -> list[str]:
    """The handshake's three segments, in order, or what is missing."""
    syn = [s for s in segments if s.sport == client_port and s.flags & wire.SYN and not s.flags & wire.ACK]
    synack = [s for s in segments if s.sport == server_port and s.flags & wire.SYN and s.flags & wire.ACK]
    ack = [s for s in segments if s.sport == client_port and not s.flags & (wire.SYN | wire.FIN | wire.RST)
           and s.flags & wire.ACK]
    missing = []
    if not syn:
        missing.append("the client's SYN")
    if not synack:
        missing.append("the server's SYN-ACK")
    if not ack:
        missing.append("the client's ACK")
    return missing


@check("connects with a full handshake from a port the kernel picked", hint=BIND_HINT, needs_wire=True)
def test_connects_from_an_ephemeral_port(clients, peers, wire_ok, clock):
    """Two copies of a client that binds a fixed port cannot run at once, and a
    rerun fails while the old connection waits in TIME_WAIT; the kernel's
    ephemeral ports exist so that clients never have to choose."""
    peer = peers.tcp()
    tap = peers.tcp_tap(peer.port)
    ports = []
    for n in (1, 2):
        run = clients.start(peer.host, peer.port)
        conv = require_conversation(run, peer, clock(3.0), index=n - 1, prefix=f"run {n}: ",
                                    hint=BIND_HINT if n == 2 else None)
        cport = conv.client_port
        complete = tap.wait_for(lambda segs: not _handshake(segs, cport, peer.port), clock(1.0))
        if not complete:
            missing = _handshake(tap.connection(cport), cport, peer.port)
            fail(f"run {n}: the handshake from port {cport} was not seen on the wire (missing "
                 f"{', '.join(missing)})", details=["on the wire:", *wire.describe(tap.connection(cport), peer.port)])
        ports.append(cport)
        peer.hang_up()  # the server closes first, so the client's port keeps no TIME_WAIT
        run.stop()
        _judge_ports(ports, "connected")


@check("sends from a port the kernel picked", hint=BIND_HINT)
def test_sends_from_an_ephemeral_port(clients, peers, clock):
    """A UDP client needs no bind: its first sendto gives it an ephemeral
    port. A fixed one collides with a second copy of the client, or with any
    other program that happens to hold it."""
    peer = peers.udp()
    ports = []
    for n in (1, 2):
        before = len(peer.datagrams)
        run = clients.start(peer.host, peer.port, timeout=clock(1.0))
        run.type_line(b"which port?")
        if not datagrams(run, peer, before + 1, clock(3.0)):
            run.require_implemented()
            state = run.death_notice("without sending") if not run.alive else \
                f"your client sent nothing to {peer.hostport} within {clock(3.0):.1f} s of a typed line"
            fail(f"run {n}: {state}", details=run.stderr_excerpt(),
                 hint=BIND_HINT if n == 2 else "send each line with sendto((host, port)) as you were given")
        ports.append(peer.datagrams[before].sender[1])
        run.stop()
        _judge_ports(ports, "sent")
