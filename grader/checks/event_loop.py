"""One thread serving every client from one readiness call (select, epoll):
proven by what the process is while many clients sit idle (one process, one
thread, blocked in the right call, asleep, every connection in its epoll
set) and by how it treats a client that sends and never reads (nobody else
stalls; the server stops reading from it instead of hoarding its echo).

The idle observations come from the shared study (engine/load_study.py);
the never-reading client gets a fresh server of its own. Numbers come from
course.toml's params: ``idle_window`` (seconds), ``hog_bytes``,
``hog_growth_mb``."""

from __future__ import annotations

import select
import socket
import time

import psutil

from grader.checks import _model
from grader.engine.check import check, fail
from grader.errors import NotRun
from grader.probes import diff, snapshot, syscalls, tcp

MAX_WAKEUPS = 10        # per second, KATAS "asleep while idle"
MAX_CPU = 0.02          # share of one CPU over the window
OTHERS = 3              # well-behaved clients served while one never reads
MiB = 1024 * 1024


@check("serves every client from one process with one thread",
       hint="no fork(), no threads: one loop, non-blocking sockets, and a readiness call that watches them all")
def test_one_process_one_thread(study):
    """The event-loop model's promise is that one thread can serve thousands
    of clients: no stack, no task and no context switch per connection."""
    for snap in _model.shots(study):
        server = snap.server
        if server is None:
            continue
        if snap.processes[1:]:
            fail(f"the server had {len(snap.processes) - 1} child processes {_model.when(study, snap)}",
                 details=[_model.TRY["tree"], *_model.tree_lines(snap)])
        if server.threads != 1:
            fail(f"the server ran {server.threads:,} threads {_model.when(study, snap)}: "
                 f"{_model.describe(study, snap)}", details=[_model.TRY["threads"], f"threads blocked in: {dict(server.calls)}"])


def _idle_calls(study) -> list[str]:
    snap = _model.loaded(study)
    calls = list(study.idle_calls) or [snap.server.main_call]
    if not syscalls.known_architecture() or "unknown" in calls:
        raise NotRun("the syscall a thread is blocked in cannot be read here (unknown architecture "
                     "or no access to /proc/PID/syscall)")
    return calls


def _judge_idle_call(study, family: set[str], name: str, hint: str) -> None:
    calls = _idle_calls(study)
    snap = _model.loaded(study)
    blocked = [c for c in calls if c != "running"]
    clients = _model.clients_in(study, snap)
    if not blocked:
        fail(f"while {clients:,} clients sat idle, the main thread was running on every one of "
             f"{len(calls)} samples, never blocked in {name}: a busy loop (see 'sleeps while its clients "
             f"are idle')", hint="something is always ready: ask for writability only while a client has "
                                 "bytes waiting, and give the readiness call no timeout")
    wrong = sorted({c for c in blocked if c not in family})
    if wrong:
        fail(f"while {clients:,} clients sat idle, the main thread was blocked in {', '.join(wrong)}, "
             f"not {name}: {_model.describe(study, snap)}", hint=hint,
             details=[_model.TRY["idle"], f"samples over {study.idle_seconds:.1f} s: {', '.join(calls)}"])


@check("when idle, its thread waits in select (pselect6)",
       hint="call select.select(readers, writers, []) and nothing else that waits: not poll, not epoll, "
            "not selectors (it picks epoll on Linux)")
def test_waits_in_select_when_idle(study):
    """select is the call this kata is about: its descriptor set, its scan of
    every socket on every wake-up, and its limit of 1,024 are the lesson."""
    _judge_idle_call(study, syscalls.SELECT_CALLS, "select/pselect6",
                     "use select.select itself: selectors.DefaultSelector and EpollSelector use epoll on Linux")


@check("when idle, its thread waits in epoll_wait",
       hint="register every socket in one select.epoll() and wait in its poll() with no timeout")
def test_waits_in_epoll_when_idle(study):
    """epoll is how Linux serves ten thousand connections: the kernel keeps
    the watched set and hands back only the sockets that are ready."""
    _judge_idle_call(study, syscalls.EPOLL_CALLS, "epoll_wait/epoll_pwait",
                     "wait in epoll.poll(); select cannot watch descriptors past 1,023")


@check("registers every live connection in its epoll set",
       hint="register each accepted socket for reading with your epoll or selector at once, and "
            "unregister it only when you close it")
def test_registers_every_connection(study):
    """A connection missing from the epoll set is never served: its data
    waits in the kernel until the client gives up."""
    snap = _model.loaded(study)
    server = snap.server
    conns = snap.connection_fds(server)
    watched = set()
    for tfds in server.epoll.values():
        watched |= set(tfds)
    if not server.epoll:
        fail(f"while {_model.clients_in(study, snap):,} clients were connected, the server had no epoll instance "
             f"(no anon_inode:[eventpoll] among its descriptors): {_model.describe(study, snap)}"
             + _model.load_note(study), details=[_model.TRY["epoll"]])
    missing = sorted(fd for fd in conns if fd not in watched)
    if missing:
        fail(f"{len(missing):,} of {len(conns):,} connected sockets were in no epoll set "
             f"(fd {', '.join(map(str, missing[:8]))}{' …' if len(missing) > 8 else ''})"
             + _model.load_note(study),
             details=[_model.TRY["epoll"]] + [f"/proc/{server.pid}/fdinfo/{fd}: {len(t):,} registered"
                                               for fd, t in server.epoll.items()])
    if not conns:
        fail("the server held no connection to look for in its epoll set" + _model.load_note(study))


@check("sleeps while its clients are idle (no busy loop)",
       hint="wait with no timeout, and ask for writability (EPOLLOUT, the write list) only while a client "
            "has bytes waiting: an empty send buffer is always writable")
def test_sleeps_while_idle(study):
    """An idle server that spins burns a CPU for nothing, and with it the
    battery, the neighbours' share of the machine, and the latency of every
    other program."""
    _model.loaded(study)
    if study.idle_cpu is None or study.idle_wakeups is None or not study.idle_seconds:
        if study.death:
            fail(f"not observed: {study.death}", details=study.death_details)
        raise NotRun("the server's CPU time and context switches could not be read")
    seconds = study.idle_seconds
    rate = study.idle_wakeups / seconds
    cpu = study.idle_cpu / seconds
    if rate <= MAX_WAKEUPS and cpu <= MAX_CPU:
        return
    details = [f"over {seconds:.1f} s with {study.connected:,} idle clients: {study.idle_wakeups:,} voluntary "
               f"wake-ups, {study.idle_cpu:.2f} s of CPU time",
               f"main thread seen in: {', '.join(study.idle_calls)}", _model.TRY["idle"]]
    hint = None
    out = _writable_watched(study)
    if out:
        hint = (f"{out:,} idle connections were registered for level-triggered EPOLLOUT: epoll reports them "
                "writable at once, forever. Add EPOLLOUT only while a client has bytes waiting")
    elif cpu > MAX_CPU and rate <= MAX_WAKEUPS:
        hint = "the thread never sleeps: is a socket always in the write list, or a zero timeout given?"
    elif rate > MAX_WAKEUPS:
        hint = ("the thread wakes up again and again: give the readiness call no timeout at all "
                "(a short one, even 0.01 s, is a busy loop in disguise)")
    fail(f"while its clients sat idle, the server used {cpu:.0%} of a CPU and woke up {rate:,.0f} times a "
         f"second (allowed: {MAX_CPU:.0%} and {MAX_WAKEUPS})", hint=hint, details=details)


def _writable_watched(study) -> int:
    """Connections registered for level-triggered EPOLLOUT while idle."""
    snap = study.loaded
    if snap is None or snap.server is None:
        return 0
    conns = set(snap.connection_fds(snap.server))
    count = 0
    for tfds in snap.server.epoll.values():
        for fd, mask in tfds.items():
            if fd in conns and mask & snapshot.EPOLLOUT and not mask & snapshot.EPOLLET:
                count += 1
    return count


# -- a client that sends and never reads -----------------------------------------------


class _Pattern:
    """A long reproducible byte stream without holding it: a random block of
    a length that no buffer size divides, repeated. Printable (hex) on
    purpose: binary data is the binary check's job."""

    def __init__(self, rng, period: int = MiB + 7):
        block = rng.randbytes(period // 2 + 1).hex().encode()[:period]
        self.period, self.twice = period, block + block

    def at(self, offset: int, n: int) -> bytes:
        out = bytearray()
        while n > 0:
            start = offset % self.period
            take = min(n, self.period)
            out += self.twice[start:start + take]
            offset, n = offset + take, n - take
        return bytes(out)


def _push(sock, pattern: _Pattern, cap: int, stall: float, rss_of=None):
    """Send without reading until ``cap`` bytes went out or nothing moved for
    ``stall`` seconds. Returns (bytes sent, stalled, peak RSS seen)."""
    sent, peak = 0, 0
    sock.setblocking(False)
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    next_rss = 0.0
    while sent < cap:
        if rss_of is not None and time.monotonic() >= next_rss:
            peak = max(peak, rss_of())
            next_rss = time.monotonic() + 0.05
        try:
            sent += sock.send(pattern.at(sent, min(256 * 1024, cap - sent)))
            continue
        except BlockingIOError:
            pass
        if not poller.poll(stall * 1000):
            if rss_of is not None:
                peak = max(peak, rss_of())
            return sent, True, peak
    if rss_of is not None:
        peak = max(peak, rss_of())
    return sent, False, peak


@check("keeps serving other clients while one client sends without reading",
       hint="never block on one client: non-blocking sockets, send() what fits and keep the rest in that "
            "client's buffer, and go back to the readiness call")
def test_serves_others_while_one_never_reads(server, clock, rng, params):
    """One slow or malicious client must not freeze a single-threaded
    server: its blocking sendall would stop the loop, and every other client
    with it."""
    cap = int(params.get("hog_bytes", 64 * MiB))
    hog = tcp.connect(server.host, server.port, clock(2.0))
    try:
        pushed, stalled, _ = _push(hog, _Pattern(rng), cap, clock(0.3))
        server.require_alive("while one client sent without reading")
        for n in range(OTHERS):
            line = b"another client (%d), while one never reads\n" % n
            ex = tcp.echo_exchange(server.host, server.port, line, timeout=clock(1.0), settle=0)
            if ex.data != line:
                server.require_alive("while one client sent without reading")
                got = "nothing came back" if not ex.data else f"{ex.data!r} came back"
                fail(f"while one client had sent {pushed / MiB:.1f} MiB without reading its echo, another client "
                     f"sent one line: {got} within {clock(1.0):.1f} s",
                     details=[f"grader> {line!r}", f"server> {ex.data!r}",
                              "the server is probably stuck in sendall() to the client that does not read"])
    finally:
        tcp.reset_close(hog)


@check("stops reading from a client that sends without reading its echo (bounded memory)",
       hint="once a client's outgoing buffer passes a high-water mark (1 MiB), stop watching it for "
            "reading; resume when the buffer drains. Its own sends then block, not your memory")
def test_stops_reading_from_a_client_that_never_reads(server, clock, rng, params):
    """Back-pressure: a server that reads everything a client sends, whether
    or not the client reads the echo, lets any client make it hoard memory
    until it is killed. Its echo must still come back whole, in order."""
    cap = int(params.get("hog_bytes", 64 * MiB))
    limit = int(params.get("hog_growth_mb", 32)) * MiB
    try:
        proc = psutil.Process(server.pid)
        before = proc.memory_info().rss
    except psutil.Error:
        raise server.died_during("before the test began")

    def rss_of() -> int:
        return proc.memory_info().rss

    pattern = _Pattern(rng)
    hog = tcp.connect(server.host, server.port, clock(2.0))
    try:
        try:
            pushed, stalled, peak = _push(hog, pattern, cap, clock(0.3), rss_of)
        except psutil.Error:
            raise server.died_during("while one client sent without reading")
        growth = peak - before
        if growth > limit:
            fail(f"while one client sent {pushed / MiB:.0f} MiB without reading its echo, the server's memory "
                 f"grew by {growth / MiB:.0f} MiB (allowed: {limit / MiB:.0f} MiB): it kept reading and "
                 "buffering", details=[f"RSS {before / MiB:.0f} MiB before, {peak / MiB:.0f} MiB at most"])
        # Now read the echo back: all of it, in order.
        hog.shutdown(socket.SHUT_WR)
        got = _read_all(hog, pushed, clock(20.0))
    finally:
        tcp.reset_close(hog)
    if len(got) != pushed or got != pattern.at(0, len(got)):
        lines = diff.describe(pattern.at(0, pushed), got)
        if not stalled and len(got) < pushed:
            fail(f"the server took all {pushed / MiB:.0f} MiB from a client that never read, without pushing "
                 f"back, and only {len(got):,} bytes of echo came back: the rest was thrown away",
                 hint="keep what send() did not take, and stop reading from a client whose buffer is full: "
                      "its own sends then block", details=lines)
        fail(f"after sending {pushed / MiB:.1f} MiB without reading, the client read its echo: "
             f"{len(got):,} of {pushed:,} bytes came back right", details=lines)


def _read_all(sock, want: int, timeout: float, settle: float = 0.25) -> bytes:
    """Read until ``want`` bytes came (then ``settle`` seconds more, for
    bytes that should not come), EOF, or the deadline."""
    got = bytearray()
    deadline = time.monotonic() + timeout
    sock.setblocking(True)
    try:
        while len(got) <= want:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            got += chunk
            if len(got) >= want:
                deadline = min(deadline, time.monotonic() + settle)
    except (OSError, TimeoutError):
        pass
    return bytes(got)
