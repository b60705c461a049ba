"""Finding and killing every process a learner's program started.

Why this is more than ``killpg``: a program may fork children that call
``setsid`` (a daemon), so neither its process group nor its session holds
them. The grader makes itself a *child subreaper* (prctl), so any orphan in the
tree is re-parented to the grader instead of init, where it can still be
found; ``kill_everything`` then kills the whole tree, repeatedly, until nothing
is left (a fork bomb keeps forking between two scans). In a private PID
namespace (isolation.py) orphans go to the namespace's init instead: its
children are orphans too, and the init itself is infrastructure, never a
victim."""

from __future__ import annotations

import ctypes
import os
import signal
import time

import psutil

PR_SET_CHILD_SUBREAPER = 36
_owned: set[int] = set()  # pids of programs the grader started itself (Popen)
_inits: set[int] = set()  # the PID namespace's init: its children are orphans


def become_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def own(pid: int) -> None:
    _owned.add(pid)


def disown(pid: int) -> None:
    _owned.discard(pid)


def adopt_init(pid: int | None) -> None:
    """Orphans of the run are re-parented to this process (a PID namespace's
    init) rather than to the grader."""
    _inits.clear()
    if pid is not None:
        _inits.add(pid)


def inits() -> set[int]:
    return set(_inits)


def tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants still running (zombies included)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def orphans() -> list[psutil.Process]:
    """Processes re-parented to the grader that it did not start itself, or
    to the run's PID namespace init, and all their descendants: the
    leftovers of some learner program whose parent died."""
    found = []
    for pid in _orphan_pids(_snapshot()):
        try:
            found.append(psutil.Process(pid))
        except psutil.Error:
            continue
    return found


def _orphan_pids(table) -> list[int]:
    me = os.getpid()
    children: dict[int, list[int]] = {}
    for child, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(child)
    todo = [c for c in children.get(me, ()) if c not in _owned and c not in _inits]
    todo += [c for init in _inits for c in children.get(init, ())]
    found, seen = [], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        found.append(p)
        todo.extend(children.get(p, ()))
    return found


def _reap_orphans(table=None) -> None:
    """Orphans re-parented to the grader become its zombies once killed:
    reap them (never a child the grader started itself: its Popen does)."""
    me = os.getpid()
    for pid, (ppid, _, state) in (table or _snapshot()).items():
        if ppid == me and state == "Z" and pid not in _owned and pid not in _inits:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def stat_rows():
    """(pid, fields after the command name) for every process in /proc/*/stat,
    in one pass: fast enough while a fork bomb starves the grader."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                yield int(name), f.read().rsplit(b")", 1)[1].split()
        except (OSError, ValueError, IndexError):
            continue


def _snapshot() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, session id, state letter), for every process."""
    table = {}
    for pid, fields in stat_rows():
        try:
            table[pid] = (int(fields[1]), int(fields[3]), fields[0].decode())
        except (ValueError, IndexError):
            continue
    return table


def _victims(table, pid: int, sid: int | None, with_orphans: bool) -> set[int]:
    children: dict[int, list[int]] = {}
    for child, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(child)
    found: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        if p in found or p not in table:
            continue
        found.add(p)
        todo.extend(children.get(p, ()))
    if with_orphans:
        found.update(_orphan_pids(table))
    if sid is not None:
        found |= {p for p, (_, s, _) in table.items() if s == sid}
    found -= {os.getpid(), *_inits}
    return {p for p in found if p in table and table[p][2] not in ("Z", "X")}


def _signal(pids, sig) -> None:
    for p in pids:
        try:
            os.kill(p, sig)
        except OSError:
            pass


def kill_everything(pid: int, sid: int | None = None, deadline: float = 5.0,
                    with_orphans: bool = True) -> bool:
    """SIGKILL the tree rooted at ``pid``, its session and (``with_orphans``)
    the run's orphans, until none is left or ``deadline`` seconds pass. True
    when all are gone.

    A fork bomb refills every slot a kill frees, faster than a scan-and-kill
    loop can empty them: so everything found is first *stopped* (SIGSTOP
    cannot be caught, and a stopped process cannot fork), scan after scan
    until a scan finds nothing new running, and only then killed."""
    end = time.monotonic() + deadline
    stopped: set[int] = set()
    while time.monotonic() < end:
        fresh = _victims(_snapshot(), pid, sid, with_orphans) - stopped
        if not fresh:
            break
        _signal(fresh, signal.SIGSTOP)
        stopped |= fresh
    while True:
        table = _snapshot()
        alive = _victims(table, pid, sid, with_orphans)
        _signal(alive | stopped, signal.SIGKILL)
        stopped = set()
        _reap_orphans(table)
        if not alive:
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
