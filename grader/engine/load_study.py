"""One server under load, studied once per grading run.

What a concurrency model *is* shows only while many clients are connected,
and again after they leave. Holding 10,000 connections takes seconds, so the
concurrency check and the process-model checks share one study instead of
loading a fresh server each: the study starts its own server, drives it
through the phases below, records what it saw, and stops it. Each check then
judges its own property from the record; none of them touches the server.

Phases (each under a deadline, ``clock(base)``; numbers from course.toml's
params, never from the kata's id):

1. baseline   the idle server before any client (threads, sockets)
2. establish  ``clients`` clients connect and greet (each must get its own
              echo), ``window`` in flight at once, within ``establish_within``;
              with more than EARLY clients, a first snapshot is taken at EARLY,
              so a server that dies later (select past 1,024) is still seen
3. loaded     a snapshot once the tree stops changing (threads, children,
              connections), while every client sits idle
4. idle       with ``idle_window`` (seconds): CPU time and voluntary wake-ups
              over the window, the main thread's syscall sampled across it
5. probe      a new client's echo round trip, timed (KATAS: <= clock(1.0))
6. verify     every idle client asks again and must get its own echo
7. leave      ``leave = "close"``: every client closes at once (a burst of
              FINs) and the tree is watched until it is back to its baseline
              or ``clock(2.0)``; ``"kill"`` (big crowds): the server is killed
              first, then the clients closed, and nothing is watched

If the server dies, the phases stop and the death is recorded with its
stderr; what was seen before stays usable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from grader.errors import Failure, NotRun
from grader.probes import load, snapshot, tcp

EARLY = 256
STALL = 2.0           # seconds without one client settling: the server stopped taking clients
POLL = 0.02
SETTLE = 0.05
PROBE_MESSAGE = b"a new client, while the others sit idle\n"


@dataclass
class Probe:
    seconds: float
    outcome: str          # ok, timeout (connect/echo), refused, reset, eof, wrong
    sent: bytes
    got: bytes


@dataclass
class Study:
    wanted: int
    params: dict
    failure: Failure | None = None        # the server could not be started at all
    not_run: NotRun | None = None
    baseline: snapshot.Snapshot | None = None
    early: snapshot.Snapshot | None = None
    established: load.Tally | None = None
    connected: int = 0                    # clients whose handshake completed and were not dropped
    loaded: snapshot.Snapshot | None = None
    idle_calls: list[str] = field(default_factory=list)
    idle_seconds: float = 0.0
    idle_cpu: float | None = None
    idle_wakeups: int | None = None
    idle_events: load.Tally | None = None  # what idle clients saw while the server should sleep
    probe: Probe | None = None
    verified: load.Tally | None = None
    left: list[snapshot.Snapshot] = field(default_factory=list)
    left_at: float | None = None
    death: str | None = None
    death_details: list[str] = field(default_factory=list)
    nofile: tuple[str, str] | None = None
    fds: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    def require(self) -> None:
        """Raise what kept the study from running at all."""
        if self.failure is not None:
            raise self.failure
        if self.not_run is not None:
            raise self.not_run

    @property
    def under_load(self) -> snapshot.Snapshot | None:
        """The snapshot taken with the most clients connected."""
        return self.loaded or self.early

    @property
    def load_note(self) -> str:
        snap = self.under_load
        if snap is None:
            return ""
        if snap is self.early and self.loaded is None:
            return f" (seen with {EARLY:,} clients connected: the server did not last until {self.wanted:,})"
        return ""

    def zombie_lifetimes(self) -> dict[int, tuple[float, float | None]]:
        """pid -> (first seen as a zombie, gone at or None) over the leave phase
        (and the loaded snapshot before it)."""
        seen: dict[int, list] = {}
        shots = ([self.loaded] if self.loaded else []) + self.left
        for snap in shots:
            now = {p.pid for p in snap.zombies}
            for pid in now:
                seen.setdefault(pid, [snap.at, None])
            for pid, times in seen.items():
                if pid not in now and times[1] is None:
                    times[1] = snap.at
        return {pid: (t[0], t[1]) for pid, t in seen.items()}


def run(launcher, clock, params: dict) -> Study:
    study = Study(wanted=int(params.get("clients", 10)), params=params)
    try:
        # Started before the grader raises its own descriptor limit: the
        # program inherits the limit it would have had anyway.
        server = launcher.fresh()
        try:
            with load.descriptors_for(study.wanted):
                _drive(study, server, clock, params)
        finally:
            launcher.stop(server)
    except NotRun as exc:
        study.not_run = exc
    except Failure as exc:
        study.failure = exc
    return study


def _died(study: Study, server, when: str) -> bool:
    if server.alive:
        return False
    study.death = server.program.death_notice(when)
    study.death_details = server.program.stderr_excerpt()
    return True


def _stable_snapshot(server, clock) -> snapshot.Snapshot:
    """A snapshot once two in a row agree on threads, children and
    connections (a thread or child is started just after accept)."""
    end = time.monotonic() + clock(1.0)
    last = snapshot.take(server.pid, server.port, epoll=True)
    while time.monotonic() < end:
        time.sleep(SETTLE)
        snap = snapshot.take(server.pid, server.port, epoll=True)
        if _shape(snap) == _shape(last):
            return snap
        last = snap
    return last


def _shape(snap: snapshot.Snapshot):
    server = snap.server
    return (server.threads if server else 0, len(snap.children), len(snap.zombies), len(snap.all_connected()),
            tuple(len(s) for p in snap.processes for s in p.epoll.values()))


def _drive(study: Study, server, clock, params: dict) -> None:
    wanted = study.wanted
    window = int(params.get("window", load.WINDOW))
    study.baseline = snapshot.take(server.pid, server.port, epoll=True)
    with load.Crowd(server.host, server.port) as crowd:
        # -- establish ----------------------------------------------------------
        start = time.monotonic()
        budget = clock(float(params.get("establish_within", 5.0)))
        tally = load.Tally(wanted)
        stall = clock(STALL)
        first = min(wanted, EARLY) if wanted > EARLY else wanted
        part = crowd.gather(first, budget, window=window, stall=stall)
        _merge(tally, part)
        if wanted > first and part.complete and server.alive:
            study.early = snapshot.take(server.pid, server.port, epoll=True)
            part = crowd.gather(wanted - first, max(0.0, budget - (time.monotonic() - start)), window=window,
                                stall=stall)
            _merge(tally, part)
        tally.elapsed = time.monotonic() - start
        study.established = tally
        study.connected = crowd.connected()
        study.timings["establish"] = tally.elapsed
        if server.alive:
            study.nofile = snapshot.nofile_limit(server.pid)
            study.fds = snapshot.count_fds(server.pid)
        if _died(study, server, f"after {tally.ok:,} clients had connected"):
            return
        # -- loaded -------------------------------------------------------------
        study.loaded = _stable_snapshot(server, clock)
        if _died(study, server, f"while {crowd.connected():,} clients were connected"):
            study.loaded = None
            return
        # -- idle -----------------------------------------------------------------
        window_s = params.get("idle_window")
        if window_s:
            _idle(study, server, crowd, float(window_s))
            if _died(study, server, f"while {crowd.connected():,} clients sat idle"):
                return
        # -- probe ----------------------------------------------------------------
        study.probe = _probe(server, clock(1.0))
        if _died(study, server, f"after a new client arrived with {crowd.connected():,} others connected"):
            return
        # -- verify ---------------------------------------------------------------
        study.verified = crowd.ask(clock(float(params.get("verify_within", 5.0))))
        study.timings["verify"] = study.verified.elapsed
        if _died(study, server, f"while {crowd.connected():,} clients asked for an echo"):
            return
        # -- leave ----------------------------------------------------------------
        leave = params.get("leave", "close" if wanted <= 1000 else "kill")
        if leave == "kill":
            server.program.kill()
            crowd.close()
            return
        study.left_at = time.monotonic()
        crowd.close()
        _watch_leaving(study, server, clock)


def _merge(total: load.Tally, part: load.Tally) -> None:
    total.ok += part.ok
    total.problems.update(part.problems)
    total.examples.extend(part.examples[:max(0, 4 - len(total.examples))])


def _idle(study: Study, server, crowd, seconds: float) -> None:
    before = snapshot.activity(server.pid)
    start = time.monotonic()
    samples = 8
    events = load.Tally(len(crowd.idle()))
    for _ in range(samples):
        part = crowd.watch(seconds / samples)
        events.problems.update(part.problems)
        events.examples.extend(part.examples[:max(0, 4 - len(events.examples))])
        study.idle_calls.append(snapshot.syscall_of(server.pid, server.pid))
    after = snapshot.activity(server.pid)
    study.idle_seconds = time.monotonic() - start
    events.ok = len(crowd.idle())
    study.idle_events = events
    if before and after:
        study.idle_cpu = after.cpu_seconds - before.cpu_seconds
        study.idle_wakeups = after.voluntary_switches - before.voluntary_switches


def _probe(server, limit: float) -> Probe:
    start = time.monotonic()
    try:
        sock = tcp.connect(server.host, server.port, limit)
    except (TimeoutError, OSError) as exc:
        outcome = "refused" if isinstance(exc, ConnectionRefusedError) else "connect timeout"
        return Probe(time.monotonic() - start, outcome, PROBE_MESSAGE, b"")
    with sock:
        left = max(0.01, limit - (time.monotonic() - start))
        got, _seconds, outcome = tcp.round_trip(sock, PROBE_MESSAGE, left)
    if outcome == "ok" and got != PROBE_MESSAGE:
        outcome = "wrong"
    return Probe(time.monotonic() - start, outcome, PROBE_MESSAGE, got)


def _back_to_baseline(study: Study, snap: snapshot.Snapshot) -> bool:
    server = snap.server
    base = study.baseline.server if study.baseline else None
    if server is None or base is None:
        return True
    return (not snap.processes[1:] and server.threads <= base.threads and not snap.all_connected())


def _watch_leaving(study: Study, server, clock) -> None:
    end = study.left_at + clock(2.0)
    while True:
        snap = snapshot.take(server.pid, server.port)
        study.left.append(snap)
        if _back_to_baseline(study, snap) or time.monotonic() > end or not server.alive:
            break
        time.sleep(POLL)
    study.timings["leave"] = time.monotonic() - study.left_at
