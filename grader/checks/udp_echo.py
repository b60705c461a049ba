"""A UDP echo server is bound where it was asked, and sends every datagram
back whole: empty, one byte, 1,400 bytes, binary, up to 65,507 bytes, over
IPv4 and IPv6. Large datagrams go one at a time (back to back the kernel may
drop some), and each is sent up to three times before a silence counts:
UDP may lose one, a server that cuts them loses every one."""

import socket

from grader.engine.check import check, fail
from grader.errors import ProgramUnavailable
from grader.probes import diff, proc, udp

FAMILY_HINT = ("pick the family from the address: AF_INET6 when --host contains ':', AF_INET otherwise "
               "(socket.getaddrinfo does this for you)")
SIZE_HINT = ("recvfrom(n) keeps the first n bytes of a datagram and the kernel throws the rest away: "
             "give it room for the largest one (65,507 bytes over IPv4, 65,527 over IPv6)")
TRY_IT = ("try it: python3 -c \"import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
          "s.sendto(b'x' * 65507, ('127.0.0.1', 9000)); print(len(s.recv(70000)))\"")


def _servers(server, launcher):
    """The check's server on 127.0.0.1, then one on ::1."""
    yield server
    try:
        yield launcher.start(host="::1")
    except ProgramUnavailable as exc:
        fail(f"started with --host ::1, {exc.message}", hint=FAMILY_HINT, details=exc.details)


@check("is bound to the address, family and port it was given",
       hint="bind((host, port)) with exactly the --host and --port given; never '' or 0.0.0.0 when asked for "
            "127.0.0.1")
def test_binds_where_asked(server, launcher):
    """A server bound to every interface when asked for one answers the whole
    network; one that ignores the family cannot serve IPv6 clients."""
    for srv in _servers(server, launcher):
        found = proc.bound_socket(srv.pid, "udp", srv.port)
        if found is None:
            fail(f"no UDP socket bound to port {srv.port} any more")
        conn = found[1]
        want = socket.AF_INET6 if ":" in srv.host else socket.AF_INET
        if conn.family != want:
            fail(f"asked for --host {srv.host}, the server is bound with an {proc.family_name(conn.family)} socket",
                 hint=FAMILY_HINT)
        if conn.laddr.ip != srv.host:
            fail(f"asked for --host {srv.host}, the server is bound to {conn.laddr.ip} port {conn.laddr.port}",
                 hint="bind to the address you were given: an empty host or 0.0.0.0 receives on every interface")


def _echoes(srv, sock, payload: bytes, what: str, clock) -> None:
    reply = udp.ask(sock, srv.address, payload, clock(1.0), stop=lambda: not srv.alive)
    if reply is None:
        if not srv.alive:
            raise srv.died_during(f"after {what} was sent")
        fail(f"sent {what} to {srv.hostport} 3 times; no reply within {clock(1.0):.1f} s each",
             details=[TRY_IT])
    if reply.data != payload:
        hint = SIZE_HINT if len(reply.data) < len(payload) and payload.startswith(reply.data) else \
            "send back exactly the bytes received: datagrams are bytes, not text"
        fail(f"sent {what} to {srv.hostport}, the reply had {len(reply.data):,} bytes"
             + ("" if len(reply.data) != len(payload) else " but different ones"),
             hint=hint, details=diff.describe(payload, reply.data))


@check("echoes every datagram whole, from 1 byte to 65,507, binary included (IPv4 and IPv6)", hint=SIZE_HINT)
def test_echoes_each_datagram_whole(server, launcher, clock, rng):
    """UDP keeps message boundaries: one datagram in, one datagram out, never
    cut. The cut is silent: recvfrom with a small buffer throws the end of a
    long datagram away and tells nobody."""
    payloads = [(b"x", "a 1-byte datagram"), (rng.randbytes(1400), "a 1,400-byte datagram"),
                (bytes(range(256)), "all 256 byte values in one datagram"),
                (rng.randbytes(65507), "a 65,507-byte datagram (the largest over IPv4)")]
    for srv in _servers(server, launcher):
        # One peer for all sizes: how many peers a server serves is judged
        # elsewhere.
        with udp.peer_socket(srv.host) as sock:
            for payload, what in payloads:
                _echoes(srv, sock, payload, what, clock)


@check("echoes empty datagrams (IPv4 and IPv6)",
       hint="in UDP b'' is a datagram of length 0, not an end of stream (there is none): echo it like any other")
def test_echoes_empty_datagrams(server, launcher, clock):
    """An empty datagram is a real message, used as a ping or a keep-alive;
    reading it as TCP's end of stream is a classic confusion."""
    for srv in _servers(server, launcher):
        with udp.peer_socket(srv.host) as sock:
            _echoes(srv, sock, b"", "an empty datagram", clock)
