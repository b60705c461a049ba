"""A TCP server listens where it was asked: the address family, the address
and the port on its command line, and the kernel completes handshakes for it."""

import socket

from grader.engine.check import check, fail
from grader.errors import ProgramUnavailable
from grader.probes import proc, wire

FAMILY_HINT = ("pick the family from the address: AF_INET6 when --host contains ':', AF_INET otherwise "
               "(socket.getaddrinfo does this for you)")


def _listening(server):
    found = proc.bound_socket(server.pid, "tcp", server.port)
    if found is None:
        fail(f"no listening socket on port {server.port} any more", hint="keep the listening socket open")
    return found[1]


@check("listens on the address, family and port it was given",
       hint="bind((host, port)) with exactly the --host and --port given; never '' or 0.0.0.0 when asked for "
            "127.0.0.1")
def test_listens_where_asked(server, launcher):
    """A server that listens on every interface when asked for one exposes
    itself to the whole network; one that ignores the family cannot serve IPv6."""
    for srv in (server, None):
        if srv is None:
            try:
                srv = launcher.start(host="::1")
            except ProgramUnavailable as exc:
                fail(f"started with --host ::1, {exc.message}", hint=FAMILY_HINT, details=exc.details)
        conn = _listening(srv)
        want_family = socket.AF_INET6 if ":" in srv.host else socket.AF_INET
        if conn.family != want_family:
            fail(f"asked for --host {srv.host}, the server listens on an {proc.family_name(conn.family)} socket",
                 hint=FAMILY_HINT)
        if conn.laddr.ip != srv.host:
            fail(f"asked for --host {srv.host}, the server listens on {conn.laddr.ip} port {conn.laddr.port}",
                 hint="bind to the address you were given: an empty host or 0.0.0.0 listens on every interface")


@check("answers a raw SYN with a SYN-ACK", hint="call listen() on the bound socket: the kernel then "
       "answers handshakes for you, even before accept()", needs_wire=True)
def test_answers_raw_syn(server, wire_ok, clock):
    """The three-way handshake is the kernel's job once a socket listens; this
    SYN, crafted with scapy, proves the listening socket is really there."""
    flags = wire.syn_probe(server.host, server.port, timeout=clock(1.0))
    if flags is None:
        fail(f"a SYN sent to {server.hostport} got no answer (3 tries)")
    if "S" not in flags or "A" not in flags:
        fail(f"a SYN sent to {server.hostport} was answered with [{flags}], not a SYN-ACK",
             hint="a RST means nothing listens on that port")
