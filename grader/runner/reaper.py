"""Finding and killing every process a learner's program started.

Why this is more than ``killpg``: a program may fork children that call
``setsid`` (a daemon), so neither its process group nor its session holds
them. The grader makes itself a *child subreaper* (prctl), so any orphan in the
tree is re-parented to the grader instead of init, where it can still be
found; ``kill_everything`` then kills the whole tree, repeatedly, until nothing
is left (a fork bomb keeps forking between two scans)."""

from __future__ import annotations

import ctypes
import os
import signal
import time

import psutil

PR_SET_CHILD_SUBREAPER = 36
_owned: set[int] = set()  # pids of programs the grader started itself (Popen)


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


def tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants still running (zombies included)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def orphans() -> list[psutil.Process]:
    """Processes re-parented to the grader that it did not start itself: the
    leftovers of some learner program whose parent died."""
    try:
        me = psutil.Process()
        found = []
        for child in me.children(recursive=False):
            if child.pid not in _owned:
                found.append(child)
                found.extend(child.children(recursive=True))
        return found
    except psutil.Error:
        return []


def _session_members(sid: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and os.getsid(proc.pid) == sid:
                found.append(proc)
        except (OSError, psutil.Error):
            continue
    return found


def _reap_orphans() -> None:
    """Orphans re-parented to the grader become its zombies once killed."""
    for proc in orphans():
        try:
            os.waitpid(proc.pid, os.WNOHANG)
        except ChildProcessError:
            pass


def kill_everything(pid: int, sid: int | None = None, deadline: float = 5.0) -> bool:
    """SIGKILL the tree rooted at ``pid``, its session and the grader's orphans,
    until none is left or ``deadline`` seconds pass. True when all are gone."""
    end = time.monotonic() + deadline
    while True:
        victims = {p.pid: p for p in tree(pid)}
        if sid is not None:
            victims.update({p.pid: p for p in _session_members(sid)})
        victims.update({p.pid: p for p in orphans()})
        victims.pop(os.getpid(), None)
        alive = []
        for proc in victims.values():
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue
                proc.send_signal(signal.SIGKILL)
                alive.append(proc)
            except psutil.Error:
                continue
        _reap_orphans()
        if not alive:
            return True
        psutil.wait_procs(alive, timeout=0.2)
        _reap_orphans()
        if time.monotonic() > end:
            return False
