"""Dual stack: started with ``--host ::``, one AF_INET6 socket serves IPv6
and IPv4 clients, because the program itself turned IPV6_V6ONLY off; IPv4
peers then appear as IPv4-mapped addresses (``::ffff:a.b.c.d``, RFC 4291
§2.5.5.2). A server asked for one family's address serves that family only.
Every client is first greeted with its address and port as the server sees
them (``ADDR PORT\\n``), then echoed.

Rules: loopback hides address bugs (a connected socket's local address is its
peer's), so IPv4 clients connect *from* 127.0.0.2 to 127.0.0.1, and the
server's own side never looks like the client. What the accepting socket saw
is read from /proc, IPV6_V6ONLY from sock_diag (``ss``). The grader changes
``net.ipv6.bindv6only`` only inside its own network namespace, and puts it
back when the check ends."""

from __future__ import annotations

import contextlib
import socket
import time

from grader.engine.check import check, fail
from grader.errors import NotRun, ProgramUnavailable
from grader.probes import diff, proc, sockdiag, tcp

IPV4_CLIENT = "127.0.0.2"       # a source address that is not the server's own
BINDV6ONLY = "/proc/sys/net/ipv6/bindv6only"
V6ONLY_HINT = ("set IPV6_V6ONLY to 0 yourself, before bind(): "
               "listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)")


class Visit:
    """One client's connection to a greeting server: who it really is, what
    it was told, and which of the server's sockets accepted it."""

    def __init__(self, server, family: int, clock):
        self.server, self.family, self.clock = server, family, clock
        self.sock: socket.socket | None = None
        self.refused = self.timed_out = False
        self.greeting, self.outcome = b"", ""
        self.accepted_by = None     # psutil's view of the server's connected socket

    @property
    def label(self) -> str:
        return "an IPv4 client" if self.family == socket.AF_INET else "an IPv6 client"

    @property
    def target(self) -> str:
        return "127.0.0.1" if self.family == socket.AF_INET else "::1"

    @property
    def client(self) -> tuple[str, int]:
        return self.sock.getsockname()[:2]

    def __enter__(self):
        source = IPV4_CLIENT if self.family == socket.AF_INET else None
        try:
            self.sock = tcp.connect(self.target, self.server.port, self.clock(2.0), source=source)
        except ConnectionRefusedError:
            self.refused = True
            return self
        except (socket.timeout, TimeoutError):
            self.timed_out = True
            return self
        port = self.client[1]
        tcp.wait_accepted(lambda: proc.tree_connections(self.server.pid), port, self.clock(2.0))
        self.accepted_by = next((c for _, c in proc.tree_connections(self.server.pid)
                                 if c.raddr and c.raddr.port == port), None)
        self.greeting, self.outcome = tcp.read_line(self.sock, self.clock(2.0))
        return self

    def __exit__(self, *exc):
        if self.sock is not None:
            self.sock.close()

    def where(self) -> str:
        src = f"{IPV4_CLIENT} → " if self.family == socket.AF_INET else ""
        return f"{src}{self.target} port {self.server.port}"

    def expected_greeting(self) -> bytes:
        """The peer as the accepting socket saw it: IPv4-mapped on an AF_INET6
        socket, plain on an AF_INET one."""
        host, port = self.client
        if self.family == socket.AF_INET and self._accepting_family() == socket.AF_INET6:
            host = "::ffff:" + host
        return f"{host} {port}\n".encode()

    def _accepting_family(self) -> int:
        if self.accepted_by is not None:
            return self.accepted_by.family
        # Already closed by the server: an IPv4 client is taken by an AF_INET
        # listener on the port if there is one (the kernel prefers it).
        ipv4 = any(c.family == socket.AF_INET for c in _listeners(self.server))
        return socket.AF_INET if ipv4 else socket.AF_INET6


def _start(launcher, host: str, why: str):
    try:
        return launcher.start(host=host)
    except ProgramUnavailable as exc:
        fail(f"started with --host {host} ({why}), {exc.message}", details=exc.details)


def _listeners(server):
    return [c for _, c in proc.tree_connections(server.pid)
            if c.status == "LISTEN" and c.laddr and c.laddr.port == server.port]


def _describe(listeners) -> str:
    return ", ".join(f"{proc.family_name(c.family)} on {c.laddr.ip}" for c in listeners)


def _one_wildcard_socket(server) -> None:
    found = _listeners(server)
    if len(found) > 1:
        fail(f"asked for --host ::, the server has {len(found)} listening sockets ({_describe(found)}); "
             "this kata asks for ONE AF_INET6 socket that serves both families",
             hint="drop the AF_INET socket; on the AF_INET6 socket set IPV6_V6ONLY to 0 before bind(), and "
                  "IPv4 clients arrive on it as ::ffff:a.b.c.d (the README's \"One socket, not two\")")
    if not found or found[0].family != socket.AF_INET6 or found[0].laddr.ip != "::":
        fail(f"asked for --host ::, the server listens on {_describe(found) or 'nothing'}, "
             "not on an IPv6 (AF_INET6) socket bound to ::",
             hint="':' in the host means AF_INET6: socket(AF_INET6, SOCK_STREAM), then bind(('::', port))")


def _wait_listening(server, clock, after: str) -> None:
    """Between two visits: an iterative server may reopen its listener, a
    server that exits after one client is said to have done so."""
    end = time.monotonic() + clock(2.0)
    while not _listeners(server):
        server.require_alive(after)
        if time.monotonic() > end:
            fail(f"{after}, the server had no listening socket on port {server.port} for {clock(2.0):.1f} s",
                 hint="keep the listening socket open and go back to accept() for the next client")
        time.sleep(0.01)


def _judge_reached(visit: Visit, ctx_words: str) -> None:
    host = visit.server.host
    if visit.refused:
        if visit.family == socket.AF_INET and host == "::":
            fail(f"{ctx_words}, {visit.label} ({visit.where()}) was refused: the AF_INET6 socket on :: is "
                 "IPv6-only (IPV6_V6ONLY = 1)", hint=V6ONLY_HINT)
        fail(f"{ctx_words}, {visit.label} ({visit.where()}) was refused",
             hint="bind((host, port)) with exactly the --host given, on a socket of its family "
                  "(AF_INET6 when it contains ':')")
    if visit.timed_out:
        fail(f"{ctx_words}, {visit.label} could not connect to {visit.where()} within {visit.clock(2.0):.1f} s")
    if visit.outcome != "ok":
        fail(f"{ctx_words}, {visit.label} connected but got no greeting line "
             f"({'only ' + repr(visit.greeting) if visit.greeting else 'nothing'}, {visit.outcome})",
             hint="send 'ADDR PORT\\n' as soon as accept() returns")


@check("serves IPv6 and IPv4 clients through one AF_INET6 socket when started with --host ::",
       hint="one socket(AF_INET6, SOCK_STREAM) bound to ('::', port) with IPV6_V6ONLY set to 0 serves both "
            "families: IPv4 clients arrive as ::ffff:a.b.c.d")
def test_serves_both_families_on_one_socket(launcher, clock):
    """The Internet speaks two protocols at once; one dual-stack socket lets a
    server answer both with one accept loop, and is what `::` means on most
    systems."""
    server = _start(launcher, "::", "dual stack")
    _one_wildcard_socket(server)
    # Greeted is served: what the greeting says and the echo that follows
    # are judged by their own checks.
    with Visit(server, socket.AF_INET6, clock) as visit:
        _judge_reached(visit, "started with --host ::")
    _wait_listening(server, clock, "after its first (IPv6) client")
    with Visit(server, socket.AF_INET, clock) as visit:
        _judge_reached(visit, "started with --host ::")


@contextlib.contextmanager
def _system_default_v6only(ctx):
    """bindv6only = 1 in this run's own network namespace, for the duration."""
    if not ctx.private_network:
        raise NotRun("the grader has no network namespace of its own here, so it cannot set "
                     "net.ipv6.bindv6only to 1 without changing the whole machine")
    try:
        with open(BINDV6ONLY) as f:
            before = f.read().strip()
        with open(BINDV6ONLY, "w") as f:
            f.write("1")
    except OSError as exc:
        raise NotRun(f"cannot set net.ipv6.bindv6only here ({exc.strerror})") from None
    try:
        yield
    finally:
        with open(BINDV6ONLY, "w") as f:
            f.write(before)


@check("turns IPV6_V6ONLY off itself, even where the system default is on",
       hint="the system default (/proc/sys/net/ipv6/bindv6only) is 1 on some machines, so " + V6ONLY_HINT)
def test_turns_v6only_off_itself(launcher, clock, ctx):
    """Linux defaults to dual stack, Windows and some BSDs do not, and any
    administrator can change it: a program that relies on the default works
    on one machine and refuses IPv4 on the next."""
    with _system_default_v6only(ctx):
        server = _start(launcher, "::", "where the system default bindv6only is 1")
        found = [c for c in _listeners(server) if c.family == socket.AF_INET6 and c.laddr.ip == "::"]
        if not found:
            fail(f"asked for --host ::, the server listens on {_describe(_listeners(server)) or 'nothing'}, "
                 "with no AF_INET6 socket on :: whose IPV6_V6ONLY could be judged",
                 hint="':' in the host means AF_INET6: bind(('::', port)) on an AF_INET6 socket")
        seen = sockdiag.listening(server.port)
        details = [f"ss -ltn shows: {', '.join(seen)}"] if seen else []
        if sockdiag.wildcard_v6only(server.port):
            fail("with the system default bindv6only = 1, the server's socket on :: is IPv6-only "
                 f"(ss shows [::]:{server.port}, not *:{server.port}): the program did not set IPV6_V6ONLY to 0 "
                 "before bind()",
                 details=details)
        with Visit(server, socket.AF_INET, clock) as visit:
            _judge_reached(visit, "with the system default bindv6only = 1")
            if visit.accepted_by is not None and visit.accepted_by.family != socket.AF_INET6:
                fail("with the system default bindv6only = 1, the IPv4 client was accepted by an AF_INET "
                     "socket, not by the AF_INET6 socket on ::, which is IPv6-only", details=details)


@check("serves only the family it was asked for: --host ::1 refuses IPv4, --host 127.0.0.1 refuses IPv6",
       hint="bind exactly the address given: '::1' and '127.0.0.1' are one family's loopback each; only '::' "
            "(with IPV6_V6ONLY 0) serves both")
def test_serves_only_the_family_asked(server, launcher, clock):
    """Binding one address is a promise about who can reach the server: an
    IPv6 loopback server that also answers IPv4 listens wider than asked."""
    for srv, asked_family, other in ((server, socket.AF_INET, socket.AF_INET6),
                                     (None, socket.AF_INET6, socket.AF_INET)):
        srv = srv or _start(launcher, "::1", "IPv6 loopback only")
        # The other family first, while the server surely listens: its
        # refusal then means what it says.
        with Visit(srv, other, clock) as visit:
            if not visit.refused:
                fail(f"started with --host {srv.host}, the server also accepted {visit.label} "
                     f"({visit.where()})",
                     details=[f"listening: {_describe(_listeners(srv))}"])
        with Visit(srv, asked_family, clock) as visit:
            _judge_reached(visit, f"started with --host {srv.host}")


@check("greets each client with its own address and port, as the server's socket sees them",
       hint="send f'{peer[0]} {peer[1]}\\n' with the peer that accept() returned, untouched: not getsockname() "
            "(your own side), and keep the ::ffff: of an IPv4-mapped address")
def test_greets_with_peer_address(server, launcher, clock):
    """The greeting shows what the kernel tells a dual-stack server about
    its peers: an IPv4 client on an IPv6 socket is ::ffff:a.b.c.d. Logs,
    access lists and rate limits all read that address."""
    judged = 0
    for host, family in (("127.0.0.1", socket.AF_INET), ("::", socket.AF_INET6), ("::", socket.AF_INET)):
        # A server of its own for each client: this check judges what the
        # greeting says, not how many clients a server serves.
        srv = server if host == "127.0.0.1" else _start(launcher, "::", "dual stack")
        with Visit(srv, family, clock) as visit:
            if host == "::" and (visit.refused or visit.timed_out):
                continue    # who gets in on :: is judged by the dual-stack checks
            _judge_reached(visit, f"started with --host {host}")
            expected = visit.expected_greeting()
            if visit.greeting != expected:
                _wrong_greeting(visit, expected, host)
            judged += 1
    if judged < 2:
        fail("started with --host ::, neither an IPv6 nor an IPv4 client could connect, so no greeting "
             "could be judged there", hint="bind(('::', port)) on an AF_INET6 socket with IPV6_V6ONLY 0")


def _wrong_greeting(visit: Visit, expected: bytes, host: str) -> None:
    got = visit.greeting
    conn = visit.accepted_by
    words = got.decode("ascii", "replace").split()
    details = [f"grader> connect from {visit.client[0]} port {visit.client[1]} "
               f"to {visit.target} port {visit.server.port}",
               f"server> {got!r}", f"expected {expected!r}", *diff.describe(expected, got)]
    who = f"{visit.label} of --host {host}"
    own = {conn.laddr.ip, str(conn.laddr.port)} if conn else set()
    if len(words) == 2 and (words[0] in own or words[1] in own) and words != expected.decode().split():
        fail(f"{who} was greeted as {got.decode(errors='replace').strip()}: that is the server's own side "
             f"of the connection, the client is {expected.decode().strip()}",
             hint="the peer comes from accept() (or conn.getpeername()); getsockname() is your own side",
             details=details)
    if expected.startswith(b"::ffff:") and got == expected[len(b"::ffff:"):]:
        fail(f"{who} was greeted as {got.decode().strip()}, but the AF_INET6 socket saw it as "
             f"{expected.decode().strip()}",
             hint="report the address exactly as accept() returned it: on an IPv6 socket an IPv4 peer is the "
                  "IPv4-mapped ::ffff:a.b.c.d (do not strip the prefix)", details=details)
    fail(f"{who} was greeted with {diff.short(got)}, expected {expected!r}", details=details)
