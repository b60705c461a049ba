"""The grader's own load generator: thousands of TCP clients held by one
event loop (epoll) in the grader's own process.

Rule 1: one thread, non-blocking sockets, no thread per connection. Opening,
holding and checking 10,000 connections must take seconds, not minutes, on a
2-core machine that also runs the server under test.

Rule 2: a client counts only once the server has echoed something on it.
connect() returning proves nothing: the kernel completes the handshake before
the server calls accept(). So every client greets (a short line that names
it) and waits for its own echo; a reply meant for another client is caught.

Rule 3: every phase has a deadline. Past a full listen backlog, connections
hang in SYN retries (1 s, 3 s, 7 s ...), and a server that stopped accepting
must cost a bounded wait, reported as such. At most ``window`` clients are
in flight (connecting or awaiting their greeting) at once, so a burst never
overflows a default backlog of 128.

Rule 4: the grader raises its own soft RLIMIT_NOFILE for the crowd (and puts
it back afterwards: learner programs it starts later inherit it), and spreads
big crowds over the source addresses 127.0.0.1-127.0.0.4 (bound with
IP_BIND_ADDRESS_NO_PORT): past about 14,000 connections to one address and
port, connect() scans the whole ephemeral range for each new one.

Rule 5: it never judges. It reports what happened (ok, refused, reset, EOF,
timed out, wrong bytes) with a few examples; the checks decide what that
means. Tearing a big crowd down is the caller's business: kill the server
first (closing 10,000 clients of a thread-per-connection server wakes all its
threads at once).

With more than 1,024 descriptors open in this process, select()-based code
breaks (pexpect, scapy's sniff): open taps before a crowd, close the crowd
before using them.
"""

from __future__ import annotations

import contextlib
import errno
import resource
import select
import socket
import time
from collections import Counter
from dataclasses import dataclass, field

from grader.errors import NotRun

IP_BIND_ADDRESS_NO_PORT = 24
SOURCES_V4 = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")
SPREAD_ABOVE = 1000          # clients; below this one source address is plenty
WINDOW = 100                 # clients in flight at once (below a default backlog of 128)
SPARE_FDS = 256              # what the grader keeps for itself beside a crowd

CONNECTING, GREETING, IDLE, ASKING, GONE = range(5)

_EV_IN = select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP | select.EPOLLRDHUP
_EV_OUT = select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP


@contextlib.contextmanager
def descriptors_for(clients: int):
    """Raise this process's soft descriptor limit far enough for ``clients``
    sockets (to the hard limit), and restore it afterwards. NotRun when the
    hard limit itself is too low (some laptops stop at 4,096)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = clients + SPARE_FDS
    if hard != resource.RLIM_INFINITY and hard < need:
        raise NotRun(f"{clients:,} connections need {need:,} descriptors in the grader, but this machine's "
                     f"hard RLIMIT_NOFILE is {hard:,}")
    raised = soft != resource.RLIM_INFINITY and soft < need
    if raised:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        yield
    finally:
        if raised:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@dataclass
class Tally:
    """What one phase of a crowd's life came to."""

    wanted: int
    ok: int = 0
    problems: Counter = field(default_factory=Counter)   # refused, reset, eof, timeout, wrong, ...
    examples: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def complete(self) -> bool:
        return self.ok == self.wanted

    def note(self, kind: str, example: str) -> None:
        self.problems[kind] += 1
        if len(self.examples) < 4:
            self.examples.append(example)

    def summary(self) -> str:
        parts = [f"{self.ok:,} of {self.wanted:,} ok in {self.elapsed:.2f} s"]
        parts += [f"{n:,} {kind}" for kind, n in self.problems.most_common()]
        return ", ".join(parts)


class _Client:
    __slots__ = ("sock", "fd", "index", "state", "want", "got", "since")

    def __init__(self, sock, index):
        self.sock, self.fd, self.index = sock, sock.fileno(), index
        self.state, self.want, self.got, self.since = CONNECTING, b"", bytearray(), 0.0


def greeting(index: int) -> bytes:
    return b"hello from client %d\n" % index


def question(index: int) -> bytes:
    return b"client %d is still here\n" % index


class Crowd:
    """Clients of one server, held open by one epoll loop. Use as a context
    manager (inside ``descriptors_for``): every socket is closed on exit."""

    def __init__(self, host: str, port: int, *, spread: bool | None = None):
        self.host, self.port = host, port
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.ep = select.epoll()
        self.clients: dict[int, _Client] = {}     # by fd, every client not GONE
        self.next_index = 0
        self._spread = spread
        self.sources: tuple = (None,)

    # -- life cycle -----------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> float:
        """Close every client at once (a burst of FINs); return how long it took."""
        start = time.monotonic()
        for client in self.clients.values():
            with contextlib.suppress(OSError):
                client.sock.close()
        self.clients.clear()
        with contextlib.suppress(OSError):
            self.ep.close()
        return time.monotonic() - start

    def idle(self) -> list[_Client]:
        return [c for c in self.clients.values() if c.state == IDLE]

    def connected(self) -> int:
        """Clients whose handshake completed and that have not been dropped
        (greeted or not)."""
        return sum(1 for c in self.clients.values() if c.state != CONNECTING)

    # -- phases -----------------------------------------------------------------

    def gather(self, count: int, timeout: float, *, window: int = WINDOW, stall: float | None = None) -> Tally:
        """Open ``count`` more clients, each greeting the server and waiting for
        its own echo, at most ``window`` in flight; stop at the deadline, or
        once no client has settled for ``stall`` seconds (a server that stopped
        accepting does not start again). Clients still in flight at the end
        stay open (connected, maybe accepted later) but do not count as ok."""
        self._choose_sources(len(self.clients) + count)
        tally = Tally(count)
        start = time.monotonic()
        deadline = start + timeout
        to_open = count
        in_flight = 0
        settled_at = start
        while (to_open or in_flight) and time.monotonic() < deadline:
            if stall is not None and time.monotonic() - settled_at > stall:
                break
            while to_open and in_flight < window:
                to_open -= 1
                if self._open(tally):
                    in_flight += 1
            for fd, events in self.ep.poll(min(0.05, max(0.0, deadline - time.monotonic())), 1024):
                client = self.clients.get(fd)
                if client is None:
                    continue
                if client.state == CONNECTING:
                    self._connected(client, events, tally)
                    if client.state == GONE:
                        in_flight -= 1
                        settled_at = time.monotonic()
                elif client.state == GREETING:
                    done = self._read_reply(client, tally, "greeting")
                    if done:
                        in_flight -= 1
                        settled_at = time.monotonic()
                else:
                    self._unexpected(client, tally)
        tally.elapsed = time.monotonic() - start
        waiting = [c for c in self.clients.values() if c.state in (CONNECTING, GREETING)]
        for client in waiting:
            waited = time.monotonic() - client.since
            tally.note("timeout", f"client {client.index}: no {'handshake' if client.state == CONNECTING else 'echo'} "
                                  f"after {waited:.1f} s")
        if to_open:
            tally.problems["never tried (the window was full)"] += to_open
        return tally

    def ask(self, timeout: float, *, clients: list | None = None, window: int = 1000) -> Tally:
        """A round trip on every idle client (or on ``clients``): each sends a
        line naming itself and must get exactly that line back before the
        deadline. At most ``window`` questions are outstanding at once (a
        thread-per-connection server woken 10,000 times at once can take
        seconds to sort itself out; that is not what is being asked)."""
        chosen = self.idle() if clients is None else [c for c in clients if c.state == IDLE]
        tally = Tally(len(chosen))
        start = time.monotonic()
        deadline = start + timeout
        pending = list(reversed(chosen))
        waiting = 0
        while (pending or waiting) and time.monotonic() < deadline:
            while pending and waiting < window:
                client = pending.pop()
                client.want, client.got, client.state = question(client.index), bytearray(), ASKING
                try:
                    client.sock.send(client.want)
                    waiting += 1
                except OSError as exc:
                    self._drop(client, tally, _kind(exc), f"client {client.index}: send failed ({_err(exc)})")
            for fd, _events in self.ep.poll(min(0.05, max(0.0, deadline - time.monotonic())), 1024):
                client = self.clients.get(fd)
                if client is None:
                    continue
                if client.state == ASKING:
                    if self._read_reply(client, tally, "question"):
                        waiting -= 1
                else:
                    self._unexpected(client, tally)
        tally.elapsed = time.monotonic() - start
        for client in chosen:
            if client.state == ASKING:
                got = bytes(client.got)
                tally.note("timeout", f"client {client.index}: sent {client.want!r}, "
                                      f"{'nothing came back' if not got else f'only {got!r} came back'} "
                                      f"within {timeout:.1f} s")
                client.state = IDLE
        if pending:
            tally.problems["not asked"] += len(pending)
        return tally

    def watch(self, seconds: float) -> Tally:
        """Let idle clients sit for ``seconds`` while noticing anything the
        server sends them or closes (nothing should happen)."""
        tally = Tally(len(self.idle()))
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            for fd, _events in self.ep.poll(left, 1024):
                client = self.clients.get(fd)
                if client is not None and client.state == IDLE:
                    self._unexpected(client, tally)
        tally.ok = len(self.idle())
        return tally

    # -- one client ---------------------------------------------------------------

    def _choose_sources(self, total: int) -> None:
        spread = self._spread if self._spread is not None else total > SPREAD_ABOVE
        if spread and self.family == socket.AF_INET and self.host.startswith("127."):
            self.sources = SOURCES_V4
        else:
            self.sources = (None,)

    def _open(self, tally: Tally) -> bool:
        index = self.next_index
        self.next_index += 1
        try:
            sock = socket.socket(self.family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        except OSError as exc:
            tally.note("grader out of descriptors", f"client {index}: socket() failed ({_err(exc)})")
            return False
        try:
            source = self.sources[index % len(self.sources)]
            if source is not None:
                sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                sock.bind((source, 0))
            err = sock.connect_ex((self.host, self.port))
        except OSError as exc:
            sock.close()
            tally.note("no source port", f"client {index}: bind failed ({_err(exc)})")
            return False
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            tally.note(_kind_errno(err), f"client {index}: connect failed ({errno.errorcode.get(err, err)})")
            return False
        client = _Client(sock, index)
        client.since = time.monotonic()
        self.clients[client.fd] = client
        self.ep.register(client.fd, _EV_OUT)
        return True

    def _connected(self, client: _Client, events: int, tally: Tally) -> None:
        err = client.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self._drop(client, tally, _kind_errno(err),
                       f"client {client.index}: connect failed ({errno.errorcode.get(err, err)})")
            return
        client.want, client.state = greeting(client.index), GREETING
        try:
            client.sock.send(client.want)
        except OSError as exc:
            self._drop(client, tally, _kind(exc), f"client {client.index}: send failed ({_err(exc)})")
            return
        self.ep.modify(client.fd, _EV_IN)

    def _read_reply(self, client: _Client, tally: Tally, what: str) -> bool:
        """Read what arrived for a client awaiting its echo; True once it is
        settled (right, wrong or gone)."""
        try:
            chunk = client.sock.recv(4096)
        except BlockingIOError:
            return False
        except OSError as exc:
            self._drop(client, tally, _kind(exc), f"client {client.index}: sent {client.want!r}, "
                                                  f"the connection was {_err(exc)}")
            return True
        if not chunk:
            got = bytes(client.got)
            self._drop(client, tally, "eof", f"client {client.index}: sent {client.want!r}, the server closed "
                                             f"the connection" + (f" after {got!r}" if got else ""))
            return True
        client.got += chunk
        if len(client.got) < len(client.want):
            if bytes(client.got) != client.want[:len(client.got)]:
                self._wrong(client, tally)
                return True
            return False
        if bytes(client.got) != client.want:
            self._wrong(client, tally)
            return True
        client.state, client.got = IDLE, bytearray()
        tally.ok += 1
        return True

    def _wrong(self, client: _Client, tally: Tally) -> None:
        self._drop(client, tally, "wrong bytes",
                   f"client {client.index}: sent {client.want!r}, received {bytes(client.got)!r}")

    def _unexpected(self, client: _Client, tally: Tally) -> None:
        """Something arrived for a client that asked nothing."""
        try:
            chunk = client.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError as exc:
            self._drop(client, tally, _kind(exc), f"client {client.index}: while idle, the connection was "
                                                  f"{_err(exc)}")
            return
        if not chunk:
            self._drop(client, tally, "eof", f"client {client.index}: while idle, the server closed the connection")
        else:
            self._drop(client, tally, "unasked bytes", f"client {client.index}: while idle, the server sent "
                                                       f"{chunk[:40]!r} unasked")

    def _drop(self, client: _Client, tally: Tally, kind: str, example: str) -> None:
        tally.note(kind, example)
        client.state = GONE
        self.clients.pop(client.fd, None)
        with contextlib.suppress(OSError, ValueError):
            self.ep.unregister(client.fd)
        client.sock.close()


def _kind_errno(err: int) -> str:
    return {errno.ECONNREFUSED: "refused", errno.ECONNRESET: "reset", errno.EPIPE: "reset",
            errno.ETIMEDOUT: "timeout", errno.EADDRNOTAVAIL: "no source port"}.get(err, errno.errorcode.get(err, str(err)))


def _kind(exc: OSError) -> str:
    return _kind_errno(exc.errno) if exc.errno else type(exc).__name__


def _err(exc: OSError) -> str:
    if exc.errno in (errno.ECONNRESET, errno.EPIPE):
        return "reset (RST)"
    return exc.strerror or str(exc)
