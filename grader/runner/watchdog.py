"""Stopping a program that reached a limit, while a check runs.

Why: a limit that only refuses (a fork that fails, an allocation that fails)
leaves a fork bomb spinning at the ceiling and a memory eater thrashing until
the check gives up. A fork bomb must be *stopped*, and the learner must read
why. One thread per grading run looks at each running program every few
hundredths of a second: a cgroup's own counters when there is one (forks it
refused, OOM kills), otherwise the tasks and resident memory of the
program's processes. A program over a limit is killed at once, whole, and
remembers which limit it was (``Program.limit_hit``), for the one line its
checks report.
"""

from __future__ import annotations

import contextlib
import os
import threading

from grader.runner import reaper

INTERVAL_CGROUP = 0.05
INTERVAL_SCAN = 0.1
PSS_MAX_PROCESSES = 32


class Watchdog:
    def __init__(self, sandbox):
        self.sandbox = sandbox
        self._programs: list = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None

    def watch(self, program) -> None:
        with self._lock:
            self._programs.append(program)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="limits-watchdog", daemon=True)
                self._thread.start()

    def forget(self, program) -> None:
        with self._lock:
            if program in self._programs:
                self._programs.remove(program)

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def _run(self) -> None:
        try:
            # A fork bomb keeps every core busy: where the grader may (root
            # with CAP_SYS_NICE), this thread runs before any of its processes.
            # It sleeps between looks, so it never holds a core for long.
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        except (OSError, AttributeError):
            pass
        identity = self.sandbox.identity
        with identity.fs_as_learner() if identity else contextlib.nullcontext():
            self._loop()

    def _loop(self) -> None:
        interval = INTERVAL_CGROUP if self.sandbox.cgroups is not None else INTERVAL_SCAN
        while not self._stop:
            with self._lock:
                programs = list(self._programs)
            for program in programs:
                if program.limit_hit is None and program.alive:
                    kind = self.over_limit(program)
                    if kind is not None:
                        program.limit_hit = kind
                        self.sandbox.kill(program)
            self._wake.wait(interval)

    def over_limit(self, program) -> str | None:
        group = getattr(program, "_group", None)
        tasks = memory = True          # still to be judged by scanning
        if group is not None:
            hits = group.events()
            if hits["processes"]:
                return "processes"
            if hits["memory"]:
                return "memory"
            tasks, memory = not self.sandbox.pids_cgroup, not self.sandbox.memory_cgroup
        if not (tasks or memory):
            return None
        return scan(program.pid, self.sandbox.limits, tasks=tasks, memory=memory)


def scan(pid: int, limits, *, tasks: bool = True, memory: bool = True) -> str | None:
    """Without a cgroup: count the tasks and the memory of the program's tree
    and of the run's orphans (where its daemons end up).

    One pass over /proc/*/stat (parent, threads, resident size): a fork bomb
    at its ceiling keeps every core busy, and this must still finish fast.
    Resident sizes count pages shared after a fork once per process, so when
    their sum is over the limit the proportional sizes (PSS) decide."""
    table = _stat_table()
    roots = {pid} | set(reaper.inits())
    children: dict[int, list[int]] = {}
    for child, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(child)
    members, todo = set(), [pid] + [c for init in roots - {pid} for c in children.get(init, [])]
    while todo:
        p = todo.pop()
        if p in members or p in roots - {pid}:
            continue
        members.add(p)
        todo.extend(children.get(p, ()))
    if tasks and sum(table[p][1] for p in members if p in table) >= limits.processes:
        return "processes"
    rss = sum(table[p][2] for p in members if p in table)
    if not memory or rss < limits.memory:
        return None
    if len(members) > PSS_MAX_PROCESSES:
        # Too many to weigh while they may be starving the grader of CPU: a
        # tree this big meets the process limit first, and each process
        # still has its RLIMIT_DATA backstop.
        return None
    return "memory" if sum(_pss(p) for p in members) >= limits.memory else None


PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (parent pid, threads, resident bytes), for every process."""
    table = {}
    for pid, fields in reaper.stat_rows():
        try:
            table[pid] = (int(fields[1]), int(fields[17]), int(fields[21]) * PAGE)
        except (ValueError, IndexError):
            continue
    return table


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0
