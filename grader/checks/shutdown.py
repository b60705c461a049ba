"""A clean shutdown: on SIGTERM, a server with clients connected closes every
connection with a FIN (never a RST) and exits with status 0 within a second.

The scene (KATAS "Numbers the checks use"): a fresh server, ``shutdown_clients``
connections (course.toml, a few hundred), most of which have had an echo and
some of which never sent a byte, every one of them idle when SIGTERM arrives.
Idle matters: Linux answers data that arrives after close() with a RST, so
a client still sending would make even a correct server look rude.

How a connection ended is judged client-side for every one of them: recv
gives b'' (a FIN) or ECONNRESET (a RST); after a FIN, a socket still in
CLOSE_WAIT saw nothing more, one in CLOSE got a RST after it (SO_ERROR says
EPIPE). The wire confirms it for a sample of at most WIRE_SAMPLE connections
where raw sockets exist (PROBING: never sniff a whole crowd in Python).

The exit and the goodbye are two checks, so that one bug costs one check: a
server killed by SIGTERM's default action still gets FINs from the kernel
(it fails the exit status only), and one that closes with SO_LINGER 0 exits
0 (it fails the FIN only)."""

from __future__ import annotations

import contextlib
import errno
import select
import signal
import socket
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field

from grader.checks._echo import connect
from grader.engine.check import check, fail
from grader.errors import Failure
from grader.probes import snapshot, wire

EXIT_WITHIN = 1.0        # s, KATAS: exit 0 within a second (stretched)
LATE = 2.0               # s: how long a late exit is still waited for, to say how late
SETTLE = 0.2             # s after the exit for the last segments to land (stretched)
SILENT_EVERY = 4         # one connection in four never sends a byte
ECHOES = 1.0             # s for every talkative connection's echo (stretched)
ACCEPTED = 2.0           # s for the server to hold every connection (stretched)
WIRE_SAMPLE = 50
TAP_BUFFER = 16 * 1024 * 1024    # a few hundred connections end at once: no frame may be dropped
TCP_INFO = 11
TCP_CLOSE, TCP_CLOSE_WAIT = 7, 8
HINT_EXIT = ("handle SIGTERM (signal.set_wakeup_fd and a socketpair in the selector, or asyncio's "
             "loop.add_signal_handler), close every client, and return from main: exit status 0")
HINT_FIN = ("for each client: shutdown(SHUT_WR), read what is still pending, then close(); never SO_LINGER 0, "
            "and never close() with unread bytes in the receive queue")


@dataclass
class Scene:
    """The connections a SIGTERM found, and what became of them."""

    clients: list[socket.socket] = field(default_factory=list)
    silent: set[int] = field(default_factory=set)          # indexes that never sent
    outcome: dict[int, str] = field(default_factory=dict)  # index -> fin, fin+rst, rst, open
    unasked: dict[int, bytes] = field(default_factory=dict)  # index -> bytes the server sent after SIGTERM
    examples: dict[str, list[str]] = field(default_factory=dict)
    sent_at: float = 0.0
    status: int | None = None                              # exit status (None: still running)
    exit_after: float | None = None

    def note(self, index: int, kind: str, example: str = "") -> None:
        self.outcome[index] = kind
        examples = self.examples.setdefault(kind, [])
        if example and len(examples) < 3:
            examples.append(example)

    def counts(self) -> Counter:
        return Counter(self.outcome.values())

    def describe(self, i: int) -> str:
        return f"connection {i} ({'never sent a byte' if i in self.silent else 'sent a line'})"


def _gather(server, clock, count: int) -> Scene:
    """``count`` connections, all accepted and idle: one in SILENT_EVERY never
    sends; the others send a line and read their echo (waited for together,
    up to clock(ECHOES)). The echo is the echo checks' business: a server
    that holds it back is still judged here."""
    scene = Scene()
    try:
        for i in range(count):
            try:
                sock = connect(server, clock)
            except Failure as exc:
                raise Failure(f"before SIGTERM, {count} clients were to connect and sit idle: connection {i + 1} "
                              f"failed ({exc.message})", details=exc.details,
                              hint="this check needs a server that holds a few hundred connections at once: "
                                   "see the concurrency check") from None
            scene.clients.append(sock)
            if i % SILENT_EVERY == 1:
                scene.silent.add(i)
            else:
                sock.sendall(_line(i))
        echoed = _read_echoes(scene, clock(ECHOES))
        _wait_accepted(scene, server, clock, echoed)
    except BaseException:
        _close_all(scene)
        raise
    return scene


def _line(i: int) -> bytes:
    return b"connection %d, soon idle\n" % i


def _read_echoes(scene: Scene, timeout: float) -> set[int]:
    """Read each talkative connection's echo; the indexes whose echo came whole."""
    ep = select.epoll()
    want, got = {}, {}
    for i, sock in enumerate(scene.clients):
        if i not in scene.silent:
            sock.setblocking(False)
            ep.register(sock.fileno(), select.EPOLLIN)
            want[sock.fileno()], got[sock.fileno()] = i, bytearray()
    done = set()
    end = time.monotonic() + timeout
    try:
        while len(done) < len(want) and time.monotonic() < end:
            for fd, _events in ep.poll(max(0.0, end - time.monotonic())):
                i = want[fd]
                try:
                    chunk = scene.clients[i].recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                got[fd] += chunk
                if not chunk or len(got[fd]) >= len(_line(i)):
                    ep.unregister(fd)
                    if bytes(got[fd]) == _line(i):
                        done.add(i)
                    else:
                        done.add(-1 - i)     # settled, but not a clean echo
    finally:
        ep.close()
    return {i for i in done if i >= 0}


def _wait_accepted(scene: Scene, server, clock, echoed: set[int]) -> None:
    """Every connection must have been accepted before SIGTERM: closing the
    listener resets whatever still waits in its queue. Proven by /proc (the
    server's tree holds them all), or else by the accept queue's order (the
    last connection had its echo, so every earlier one was accepted)."""
    count = len(scene.clients)
    end = time.monotonic() + clock(ACCEPTED)
    held = 0
    while True:
        server.require_alive(f"while {count} clients connected")
        held = len(snapshot.take(server.pid, server.port).all_connected())
        if held >= count or (count - 1) in echoed or time.monotonic() >= end:
            break
        time.sleep(0.02)
    if held and held < count and (count - 1) not in echoed:
        raise Failure(f"before SIGTERM, {count} clients connected, but the server accepted only {held} of them "
                      f"within {clock(ACCEPTED):.1f} s", hint="accept every pending connection when the listener "
                      "is readable (until BlockingIOError), and never block on one client")


def _watch(scene: Scene, server, clock) -> None:
    """SIGTERM, then watch every connection until each has ended or the
    program has exited (and SETTLE has passed) or LATE is over."""
    ep = select.epoll()
    by_fd = {}
    for i, sock in enumerate(scene.clients):
        sock.setblocking(False)
        ep.register(sock.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
        by_fd[sock.fileno()] = i
    scene.sent_at = time.monotonic()
    status = server.program.terminate(0)
    if status is not None:
        # Gone at once (or already gone before the signal).
        scene.exit_after = time.monotonic() - scene.sent_at
    late = scene.sent_at + clock(LATE)
    settle_until = None
    try:
        while by_fd:
            now = time.monotonic()
            if status is None:
                status = server.program.proc.poll()
                if status is not None:
                    scene.exit_after = now - scene.sent_at
            if status is not None and settle_until is None:
                settle_until = now + clock(SETTLE)
            end = min(late, settle_until or late)
            if now >= end:
                break
            for fd, _events in ep.poll(min(0.02, end - now)):
                if fd in by_fd and _ended(scene, by_fd[fd]):
                    del by_fd[fd]
                    ep.unregister(fd)
    finally:
        ep.close()
    if status is None:
        # Not gone yet: how long it takes (up to LATE) still tells the learner
        # something. No second SIGTERM: an exiting Python has restored the
        # signal's default action, and would be killed by it.
        status = _wait_exit(server, late)
        if status is not None:
            scene.exit_after = time.monotonic() - scene.sent_at
    scene.status = status
    for i in by_fd.values():
        scene.note(i, "open", f"{scene.describe(i)}: nothing came, neither FIN nor RST")
    # A RST after the FIN leaves the client's socket in CLOSE, not CLOSE_WAIT.
    for i, kind in list(scene.outcome.items()):
        if kind == "fin" and _state(scene.clients[i]) != TCP_CLOSE_WAIT:
            scene.note(i, "fin+rst", f"{scene.describe(i)}: a FIN, then a RST")


def _wait_exit(server, until: float) -> int | None:
    try:
        return server.program.proc.wait(max(0.0, until - time.monotonic()))
    except subprocess.TimeoutExpired:
        return None


def _ended(scene: Scene, i: int) -> bool:
    """Read what arrived on connection ``i``; True once it has ended (FIN or
    RST). Bytes before the end are kept: an idle client was owed nothing."""
    sock = scene.clients[i]
    while True:
        try:
            chunk = sock.recv(4096)
        except BlockingIOError:
            return False
        except OSError as exc:
            why = "reset (RST), no FIN" if exc.errno in (errno.ECONNRESET, errno.EPIPE) else exc.strerror
            scene.note(i, "rst", f"{scene.describe(i)}: {why}")
            return True
        if not chunk:
            scene.note(i, "fin")
            return True
        if len(scene.unasked.get(i, b"")) < 64:
            scene.unasked[i] = scene.unasked.get(i, b"") + chunk[:64]


def _state(sock: socket.socket) -> int | None:
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, TCP_INFO, 8)[0]
    except OSError:
        return None


def _close_all(scene: Scene) -> None:
    for sock in scene.clients:
        with contextlib.suppress(OSError):
            sock.close()


def _status_text(status: int | None) -> str:
    if status is None:
        return "was still running"
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


@check("exits with status 0 within a second of SIGTERM, clients connected",
       hint=HINT_EXIT, timeout=40.0)
def test_exits_0_soon_after_sigterm(server, clock, params):
    """SIGTERM is how service managers, containers and Ctrl-C's polite cousin
    ask a server to stop: it must finish its business and leave promptly, and
    say it ended well (status 0). Killed by the signal, it gets no say in
    what its clients see."""
    count = int(params.get("shutdown_clients", 300))
    scene = _gather(server, clock, count)
    try:
        _watch(scene, server, clock)
    finally:
        _close_all(scene)
    limit = clock(EXIT_WITHIN)
    stderr = server.program.stderr_excerpt()
    seen = f"SIGTERM with {count} idle connections open"
    if scene.status is None:
        fail(f"{seen}: the server {_status_text(None)} {clock(LATE):.1f} s later", details=stderr,
             hint="a flag set by a signal handler goes unnoticed while the loop sleeps: wake it through a "
                  "descriptor (signal.set_wakeup_fd + socketpair, or asyncio's loop.add_signal_handler)")
    if scene.status == -signal.SIGTERM:
        fail(f"{seen}: the server {_status_text(scene.status)} (its default action), not a clean exit",
             details=stderr)
    if scene.status != 0:
        fail(f"{seen}: the server {_status_text(scene.status)}, not 0", details=stderr,
             hint="end the loop on SIGTERM and return from main normally: no exception, no sys.exit(1)")
    if scene.exit_after > limit:
        fail(f"{seen}: the server exited with status 0, but only after "
             f"{clock.explain(scene.exit_after, EXIT_WITHIN)}", details=stderr,
             hint="do not wait for clients to leave: close them yourself, now")


@check("on SIGTERM, closes every open connection with a FIN, never a RST",
       hint=HINT_FIN, timeout=40.0)
def test_closes_every_connection_with_fin_on_sigterm(server, clock, params, ctx, evidence):
    """A FIN tells each client "that was everything"; a RST tells it "forget
    this connection", and it may throw away bytes it had not read yet. A
    server going down is no excuse to be rude."""
    count = int(params.get("shutdown_clients", 300))
    scene = _gather(server, clock, count)
    tap = None
    try:
        if not ctx.wire_unavailable:
            tap = wire.Tap(server.port, buffer=TAP_BUFFER)
        _watch(scene, server, clock)
        ports = {i: s.getsockname()[1] for i, s in enumerate(scene.clients)}
        if tap is not None:
            # Segments still on their way once every client has its verdict.
            sample = _sample(scene, WIRE_SAMPLE)
            tap.wait_for(lambda segs: _ended_on_wire(segs, server.port, {ports[i] for i in sample}),
                         clock(SETTLE))
        _judge(scene, server, clock, tap, ports, evidence, count)
    finally:
        _close_all(scene)
        if tap is not None:
            tap.close()


def _sample(scene: Scene, n: int) -> list[int]:
    """Up to ``n`` connections, silent and talkative ones, spread over the crowd."""
    total = len(scene.clients)
    step = max(1, total // n)
    return list(range(0, total, step))[:n]


def _ended_on_wire(segments, server_port: int, ports: set[int]) -> bool:
    done = {s.dport for s in segments if s.sport == server_port and s.flags & (wire.FIN | wire.RST)}
    return ports <= done


def _judge(scene: Scene, server, clock, tap, ports, evidence, count) -> None:
    counts = scene.counts()
    seen = f"SIGTERM with {count} idle connections open"
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.most_common())
    details = [f"grader> after SIGTERM: {summary}" + (" (fin+rst: a FIN, then a RST)" if counts["fin+rst"] else "")]
    worst = next((k for k in ("rst", "fin+rst", "open") if counts[k]), None)
    if worst is not None:
        example = next(i for i, k in scene.outcome.items() if k == worst)
        details += [line for kind in ("rst", "fin+rst", "open") for line in scene.examples.get(kind, [])]
        kept = _wire_proof(tap, server.port, ports[example], evidence)
        proof = dict(details=details + kept.get("details", []), evidence=kept.get("evidence", []))
        if worst == "rst":
            fail(f"{seen}: {counts['rst']} of {count} were reset (RST) instead of closed with a FIN", **proof)
        if worst == "fin+rst":
            fail(f"{seen}: {counts['fin+rst']} of {count} got a FIN and then a RST: a socket was closed with "
                 "bytes unread, or with SO_LINGER 0", **proof,
                 hint="after shutdown(SHUT_WR), read until recv returns b'' or would block, then close(); "
                      "never SO_LINGER 0")
        alive = server.alive
        fail(f"{seen}: {counts['open']} of {count} connections were still open {clock(LATE):.1f} s later"
             + (" (the server was still running)" if alive else ""), details=details,
             hint=HINT_FIN if not alive else
             "wake the loop on SIGTERM (signal.set_wakeup_fd + socketpair, or loop.add_signal_handler), "
             "then close every client")
    if scene.unasked:
        i, got = next(iter(scene.unasked.items()))
        fail(f"{seen}: before its FIN, the server sent {len(scene.unasked)} idle clients bytes they never asked "
             f"for", hint="an echo server sends only the echo it owes, even when it says goodbye",
             details=details + [f"{scene.describe(i)}: server> {got!r}"])
    if tap is None:
        return
    # Client-side, every connection saw a clean FIN; on the wire, no RST from
    # the server may follow it. (A FIN the tap missed proves nothing: the
    # client's own socket already saw it.)
    for i in _sample(scene, WIRE_SAMPLE):
        segs = [s for s in tap.connection(ports[i]) if s.sport == server.port]
        if any(s.flags & wire.RST for s in segs):
            kept = _wire_proof(tap, server.port, ports[i], evidence)
            fail(f"{seen}: on the wire, the server sent a RST on {scene.describe(i)}",
                 details=kept["details"], evidence=kept["evidence"])


def _wire_proof(tap, server_port: int, client_port: int, evidence) -> dict:
    if tap is None:
        return {}
    segs = tap.connection(client_port)
    if not segs:
        return {}
    pcap = tap.save_pcap(evidence / "shutdown.pcap", client_port)
    return dict(details=["on the wire (after SIGTERM):", *wire.describe(segs, server_port)], evidence=[pcap])
