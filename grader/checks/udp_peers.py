"""One UDP socket serves every peer: each reply goes to the sender of its
own datagram (spoofed senders on 127.0.0.x included), comes from the
server's bound address and port, and the server holds exactly one UDP
socket, never connected, however many peers come and go. Garbage and bursts
do not bring it down."""

import time

from grader.engine.check import check, fail
from grader.probes import diff, proc, udp
from grader.probes.peers import Spoofer

PEERS = 4
SPOOFED = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
CROWD = 300
BURST = 3000
ANSWER_HINT = ("reply with sendto(data, addr) to the addr that this recvfrom returned, on the bound socket; "
               "never connect() it (a connected UDP socket hears one peer only)")


def _misdirected(socks, payload) -> str:
    for n, sock in enumerate(socks, 1):
        for data, _ in udp.drain(sock):
            if data == payload:
                return f"; its echo went to peer {n} instead"
    return ""


def _settled_table(pid: int, timeout: float) -> dict:
    """The descriptor table once it stops changing (a reply socket opened
    and closed around a sendto may still be there a moment after the echo)."""
    end = time.monotonic() + timeout
    table = proc.fd_table(pid)
    while time.monotonic() < end:
        time.sleep(0.02)
        again = proc.fd_table(pid)
        if again == table:
            break
        table = again
    return table


@check("replies to each sender, spoofed 127.0.0.x senders included", hint=ANSWER_HINT, needs_wire=True)
def test_replies_to_each_sender(server, wire_ok, peers, clock):
    """Without a connection, the address recvfrom returns is the only thing
    that ties a reply to its request: one server, many peers, each answered
    at its own address."""
    socks = [udp.peer_socket(server.host) for _ in range(PEERS)]
    try:
        for rnd in (1, 2):
            for n, sock in enumerate(socks, 1):
                payload = f"peer {n}, message {rnd}".encode()
                reply = udp.ask(sock, server.address, payload, clock(1.0), stop=lambda: not server.alive)
                who = f"peer {n} (127.0.0.1:{sock.getsockname()[1]})"
                if reply is None:
                    server.require_alive(f"while peer {n} was waiting for its echo")
                    fail(f"{who} sent {payload!r} 3 times and got no reply{_misdirected(socks, payload)}",
                         details=[f"peers 1 to {PEERS} take turns, each waiting for its own echo"])
                if reply.data != payload:
                    fail(f"{who} sent {payload!r} and received {diff.short(reply.data)}, someone else's echo",
                         details=[f"peers 1 to {PEERS} take turns, each waiting for its own echo"])
    finally:
        for sock in socks:
            sock.close()
    # Datagrams forged from other loopback addresses: the reply must reach
    # the forged sender, where a socket of the grader's waits for it.
    spoofer = peers.spoofer()
    for n, src in enumerate(SPOOFED, 1):
        with udp.peer_socket(src, bind=(src, 0)) as catcher:
            sport = catcher.getsockname()[1]
            payload = f"from {src}:{sport}, a sender the server never met".encode()
            packet = Spoofer.packet(src, sport, server.host, server.port, payload)
            got = None
            for _try in range(3):
                spoofer.send(server.host, packet)
                got = udp.receive(catcher, clock(1.0))
                if got is not None:
                    break
        if got is None:
            server.require_alive(f"after a datagram from {src}")
            fail(f"a datagram from {src} port {sport} (sent 3 times) got no reply at that address",
                 details=["scapy forged the source address; a socket of the grader's waited there"])
        if got[0] != payload:
            fail(f"{src} port {sport} sent {payload!r} and received {diff.short(got[0])}")


@check("replies from its own address and port (the bound socket)",
       hint="reply with sendto on the socket you bound: a new socket per reply gets a new ephemeral port, "
            "and clients drop replies that come from anywhere but the port they wrote to")
def test_replies_from_its_own_port(server, clock):
    """A client sends to host:port and trusts only replies from host:port
    (kata4 does exactly that): a reply from another port is a stranger's."""
    with udp.peer_socket(server.host) as sock:
        for n in range(1, 4):
            payload = f"where do you answer from? ({n})".encode()
            reply = udp.ask(sock, server.address, payload, clock(1.0), stop=lambda: not server.alive)
            if reply is None:
                server.require_alive("while waiting for an echo")
                fail(f"sent {payload!r} 3 times; no reply within {clock(1.0):.1f} s each")
            if tuple(reply.sender) != server.address:
                fail(f"the reply came from {reply.sender[0]} port {reply.sender[1]}, not from the server's own "
                     f"{server.hostport}", details=[f"grader> {payload!r}", f"server> {reply.data!r}"])


@check(f"serves every peer with one socket: one UDP socket, never connected, the same descriptors after "
       f"{CROWD} peers", hint="one socket, bound once, for every peer: recvfrom/sendto carry the address; no "
       "connect(), no socket per peer", timeout=60.0)
def test_serves_every_peer_with_one_socket(server, clock):
    """The point of UDP on the server side: no accept, no connection, no
    descriptor per client. A socket per peer brings back TCP's costs without
    its guarantees; a connected socket hears one peer and drops the rest."""
    with udp.peer_socket(server.host) as first:
        if udp.ask(first, server.address, b"first peer", clock(1.0), stop=lambda: not server.alive) is None:
            server.require_alive("while waiting for an echo")
            fail(f"the first peer got no echo from {server.hostport}")
        before = _settled_table(server.pid, clock(0.5))
        # A crowd of short-lived peers, in batches; their echoes are read when
        # they come but judged elsewhere (replies to each sender).
        for start in range(0, CROWD, 50):
            batch = [udp.peer_socket(server.host) for _ in range(50)]
            for n, sock in enumerate(batch, start):
                try:
                    sock.sendto(b"peer %d" % n, server.address)
                except OSError:
                    pass
            udp.wait_drained(server.pid, server.port, clock(1.0))
            for sock in batch:
                sock.close()
        server.require_alive(f"after {CROWD} peers")
        udp.wait_drained(server.pid, server.port, clock(1.0))
        held = udp.sockets_of(server.pid)
        connected = [s for _, _, s in held if s.remote]
        if connected:
            fail(f"the server's UDP socket is connected ({connected[0].describe()}): it hears that one peer only",
                 hint="do not connect() a server's UDP socket: reply with sendto(data, addr)")
        if len(held) != 1:
            fail(f"after {CROWD} peers the server holds {len(held)} UDP sockets, not one",
                 details=[f"fd {fd}: {s.describe()}" for _, fd, s in held[:8]])
        end = time.monotonic() + clock(1.0)
        after = proc.fd_table(server.pid)
        while after != before and time.monotonic() < end:
            time.sleep(0.02)
            after = proc.fd_table(server.pid)
        if after != before:
            grown = len(after) - len(before)
            fail(f"after {CROWD} peers came and went, the server holds {len(after)} descriptors, "
                 f"{len(before)} before ({grown:+d})",
                 details=[f"new: fd {fd} -> {t}" for fd, t in sorted(after.items()) if before.get(fd) != t][:8])


@check(f"keeps serving after garbage datagrams and a burst of {BURST:,}",
       hint="treat datagrams as bytes (no decode), and let no single datagram end the server: catch OSError "
            "around sendto")
def test_survives_garbage_and_bursts(server, clock, rng):
    """Anyone can send anything to a UDP port: invalid text, random bytes, a
    flood. A server that dies on the first odd datagram is down for every
    other client."""
    garbage = [b"\xff\xfe\xfd\xfc", b"\x80" * 100, b"\xc3\x28 not UTF-8", bytes(range(256))[::-1], b"\x00",
               rng.randbytes(512)]
    # The first peer sends the garbage and asks afterwards: whom a server
    # answers is judged elsewhere, here only whether it still does.
    with udp.peer_socket(server.host) as sock:
        for data in garbage:
            try:
                sock.sendto(data, server.address)
            except OSError:
                pass
        udp.wait_drained(server.pid, server.port, clock(1.0))
        _still_echoes(server, sock, clock, "after garbage datagrams (bytes that are not valid text)")
        senders = [udp.peer_socket(server.host) for _ in range(4)]
        try:
            for n in range(BURST):
                try:
                    senders[n % 4].sendto(rng.randbytes(1 + n % 1400), server.address)
                except OSError:
                    pass
            udp.wait_drained(server.pid, server.port, clock(3.0))
        finally:
            for s in senders:
                s.close()
        _still_echoes(server, sock, clock, f"after a burst of {BURST:,} datagrams from 4 peers")


def _still_echoes(server, sock, clock, after: str):
    server.require_alive(after)
    payload = b"are you still there?"
    reply = udp.ask(sock, server.address, payload, clock(1.0), match=True, stop=lambda: not server.alive)
    server.require_alive(after)
    if reply is None:
        fail(f"{after}, the server did not answer {payload!r} (sent 3 times)")
