"""Reading the shared study's record for the process-model checks: which
snapshot to judge, when it was taken, and the process tree in a few lines a
learner can compare with ``ps -eLf`` and ``ls -l /proc/PID/fd``."""

from __future__ import annotations

from grader.engine import load_study
from grader.errors import Failure, NotRun
from grader.probes import snapshot


def loaded(study) -> snapshot.Snapshot:
    """The snapshot taken under load, or the Failure saying why there is none."""
    snap = study.under_load
    if snap is None:
        why = study.death or "the server was never seen with its clients connected"
        raise Failure(f"not observed: {why}", hint="see the concurrency check: the server did not hold its clients",
                      details=study.death_details)
    if not snap.readable:
        raise NotRun("the server's descriptors cannot be read here (/proc/PID/fd links need the same user "
                     "or CAP_SYS_PTRACE)")
    return snap


def load_note(study) -> str:
    return study.load_note


def describe(study, snap) -> str:
    return snapshot.describe_model(snap)


def after_leaving(study) -> snapshot.Snapshot | None:
    return study.left[-1] if study.left else None


def first_time(study, predicate) -> tuple[float | None, snapshot.Snapshot | None]:
    """Seconds after the clients left until ``predicate(snapshot)`` first
    held (None if it never did), and the snapshot it held in (else the last)."""
    for snap in study.left:
        if predicate(snap):
            return snap.at - study.left_at, snap
    return None, after_leaving(study)


def shots(study) -> list[snapshot.Snapshot]:
    """Every snapshot worth judging: under load, then while the clients left."""
    under = study.under_load
    return ([under] if under is not None else []) + list(study.left)


def clients_in(study, snap) -> int:
    """How many clients were connected when ``snap`` was taken."""
    if snap is study.early:
        return load_study.EARLY
    return study.connected


def when(study, snap) -> str:
    if snap is study.loaded or snap is study.early:
        return f"while {clients_in(study, snap):,} clients were connected"
    if study.left_at is not None:
        return f"{snap.at - study.left_at:.2f} s after the clients left"
    return ""


def tree_lines(snap: snapshot.Snapshot | None, limit: int = 6) -> list[str]:
    """``pid 812 (server): 1 thread in accept4; holds the listener and 0 connections``"""
    if snap is None:
        return []
    lines = []
    for i, view in enumerate(snap.processes):
        role = "server" if i == 0 else "child"
        if view.zombie:
            lines.append(f"pid {view.pid} ({role}): zombie <defunct>")
            continue
        threads = f"{view.threads} thread{'s' if view.threads != 1 else ''}"
        holds = []
        if snap.holds_listener(view):
            holds.append("the listener")
        holds.append(f"{len(snap.connected(view))} connection{'s' if len(snap.connected(view)) != 1 else ''}")
        lines.append(f"pid {view.pid} ({role}): {threads}, main thread in {view.main_call}; "
                     f"holds {' and '.join(holds)}")
    if len(lines) > limit:
        lines = lines[:limit - 1] + [f"… and {len(lines) - limit + 1} more processes"]
    return lines


# What a learner can run by hand to see what the check saw.
TRY = {
    "tree": "try it: start your server on port 9000, connect a few `nc 127.0.0.1 9000` clients, then "
            "`ps -ef --forest | grep server.py` and `ls -l /proc/PID/fd` for each pid",
    "threads": "try it: start your server on port 9000, connect a few `nc 127.0.0.1 9000` clients, then "
               "`ps -L -o tid,wchan:24,cmd -p PID` (one line per thread) and `ls -l /proc/PID/fd`",
    "idle": "try it: start your server on port 9000, connect a few `nc 127.0.0.1 9000` clients, then "
            "`cat /proc/PID/syscall` (first number: the call, 270 = pselect6, 232 = epoll_wait on x86_64) and "
            "`grep ctxt /proc/PID/status` twice, a second apart",
    "epoll": "try it: start your server on port 9000, connect a few `nc 127.0.0.1 9000` clients, then "
             "`ls -l /proc/PID/fd | grep eventpoll` and `cat /proc/PID/fdinfo/EPFD` (one tfd: line per socket)",
}

