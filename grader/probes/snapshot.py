"""A server's process tree at one instant, read from /proc: its processes
(children, zombies), their threads and what the main thread is blocked in,
the sockets each process holds (the listener, connections on the server's
port), and what its epoll instances watch.

Rule 1: read-only. Only /proc and psutil are read; the learner's program is
never touched, and a process that vanishes mid-read is simply absent.
Rule 2: cheap at scale. A snapshot costs one pass over each process's
descriptor table and one read of the kernel's TCP tables, so a server with
10,000 connections is seen in tens of milliseconds; thread syscalls are read
for the main thread and a bounded sample of the others.
Rule 3: sockets are matched by inode against /proc/net/tcp{,6}, never by fd
number: the same connection held by a parent and a child is one inode, and a
descriptor number is reused the moment it is closed.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field

import psutil

from grader.probes import syscalls

LISTEN = "0A"
STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
          "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
          "0B": "CLOSING"}
EPOLLOUT = 0x004
EPOLLET = 1 << 31
THREAD_SAMPLE = 32


def tcp_on_port(port: int) -> dict[int, str]:
    """inode -> state (hex, as /proc/net/tcp writes it) of every TCP socket
    whose local port is ``port``: the listener and the server's side of each
    connection. Sockets in TIME_WAIT have inode 0 and belong to nobody."""
    found = {}
    suffix = f":{port:04X}"
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f, None)
                for line in f:
                    parts = line.split()
                    if len(parts) > 9 and parts[1].endswith(suffix) and parts[9] != "0":
                        found[int(parts[9])] = parts[3]
        except OSError:
            continue
    return found


def _sockets(pid: int) -> tuple[dict[int, int], bool]:
    """fd -> socket inode, read straight from /proc/PID/fd, and whether the
    links could be read at all (root without CAP_SYS_PTRACE can list another
    user's descriptors but not read where they point)."""
    found = {}
    base = f"/proc/{pid}/fd"
    try:
        names = os.listdir(base)
    except PermissionError:
        return found, False
    except OSError:
        return found, True
    for name in names:
        try:
            target = os.readlink(f"{base}/{name}")
        except PermissionError:
            return found, False
        except OSError:
            continue
        if target.startswith("socket:["):
            found[int(name)] = int(target[8:-1])
    return found, True


def _epoll_sets(pid: int) -> dict[int, dict[int, int]]:
    """epoll fd -> {registered fd: event mask} (``tfd:`` lines of fdinfo)."""
    sets = {}
    base = f"/proc/{pid}/fd"
    try:
        names = os.listdir(base)
    except OSError:
        return sets
    for name in names:
        try:
            if os.readlink(f"{base}/{name}") != "anon_inode:[eventpoll]":
                continue
            watched = {}
            with open(f"/proc/{pid}/fdinfo/{name}") as f:
                for line in f:
                    if line.startswith("tfd:"):
                        parts = line.split()
                        watched[int(parts[1])] = int(parts[3], 16)
            sets[int(name)] = watched
        except (OSError, ValueError, IndexError):
            continue
    return sets


def syscall_of(pid: int, tid: int) -> str:
    """The call a thread is blocked in ("pselect6", "epoll_wait" ...),
    "running" when it is on a CPU, "unknown" when it cannot be read or the
    architecture's numbers are not known."""
    try:
        with open(f"/proc/{pid}/task/{tid}/syscall") as f:
            first = f.read().split()[0]
    except (OSError, IndexError):
        return "unknown"
    if first == "running":
        return "running"
    try:
        return syscalls.name(int(first))
    except ValueError:
        return "unknown"


@dataclass
class ProcessView:
    pid: int
    ppid: int
    zombie: bool
    threads: int
    main_call: str                        # what the main thread is blocked in
    calls: Counter                        # call -> threads (main + a sample of the others)
    sockets: dict[int, int]               # fd -> inode
    epoll: dict[int, dict[int, int]] = field(default_factory=dict)
    readable: bool = True                 # False: its descriptors could not be read here


@dataclass
class Snapshot:
    at: float
    root: int
    port: int
    processes: list[ProcessView]          # the server first, then its descendants
    tcp: dict[int, str]                   # inode -> state, sockets on the server's port

    @property
    def readable(self) -> bool:
        return all(p.readable for p in self.processes)

    @property
    def server(self) -> ProcessView | None:
        return self.processes[0] if self.processes and self.processes[0].pid == self.root else None

    @property
    def children(self) -> list[ProcessView]:
        """Descendants still running (zombies left out)."""
        return [p for p in self.processes[1:] if not p.zombie]

    @property
    def zombies(self) -> list[ProcessView]:
        return [p for p in self.processes[1:] if p.zombie]

    @property
    def listeners(self) -> set[int]:
        return {inode for inode, state in self.tcp.items() if state == LISTEN}

    def connected(self, view: ProcessView) -> set[int]:
        """Inodes of the connections on the server's port that ``view`` holds."""
        return {inode for inode in view.sockets.values() if self.tcp.get(inode, LISTEN) != LISTEN}

    def holds_listener(self, view: ProcessView) -> bool:
        return bool(self.listeners & set(view.sockets.values()))

    def all_connected(self) -> set[int]:
        found = set()
        for view in self.processes:
            if not view.zombie:
                found |= self.connected(view)
        return found

    def connection_fds(self, view: ProcessView) -> dict[int, int]:
        """fd -> inode of the connections ``view`` holds."""
        return {fd: inode for fd, inode in view.sockets.items() if self.tcp.get(inode, LISTEN) != LISTEN}


def take(root: int, port: int, *, epoll: bool = False, thread_sample: int = THREAD_SAMPLE) -> Snapshot:
    """The tree rooted at ``root`` (the server's pid) as it is now."""
    at = time.monotonic()
    tcp = tcp_on_port(port)
    views = []
    try:
        top = psutil.Process(root)
        procs = [top, *top.children(recursive=True)]
    except psutil.Error:
        procs = []
    for proc in procs:
        try:
            zombie = proc.status() == psutil.STATUS_ZOMBIE
            ppid = proc.ppid()
        except psutil.Error:
            continue
        if zombie:
            views.append(ProcessView(proc.pid, ppid, True, 0, "none", Counter(), {}))
            continue
        try:
            tids = sorted(int(t) for t in os.listdir(f"/proc/{proc.pid}/task"))
        except OSError:
            continue
        sample = [proc.pid] + [t for t in tids if t != proc.pid][:thread_sample]
        calls = Counter(syscall_of(proc.pid, tid) for tid in sample)
        sockets, readable = _sockets(proc.pid)
        views.append(ProcessView(
            pid=proc.pid, ppid=ppid, zombie=False, threads=len(tids),
            main_call=syscall_of(proc.pid, proc.pid), calls=calls, sockets=sockets,
            epoll=_epoll_sets(proc.pid) if epoll else {}, readable=readable))
    return Snapshot(at, root, port, views, tcp)


def nofile_limit(pid: int) -> tuple[str, str] | None:
    """(soft, hard) "Max open files" of a process, as /proc/PID/limits says."""
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    parts = line.split()
                    return parts[3], parts[4]
    except OSError:
        pass
    return None


def count_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


@dataclass
class Activity:
    cpu_seconds: float
    voluntary_switches: int


def activity(pid: int) -> Activity | None:
    """CPU time and voluntary context switches of every thread of ``pid``."""
    try:
        proc = psutil.Process(pid)
        times = proc.cpu_times()
        switches = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/status") as f:
                    for line in f:
                        if line.startswith("voluntary_ctxt_switches"):
                            switches += int(line.split()[1])
                            break
            except OSError:
                continue
        return Activity(times.user + times.system, switches)
    except (psutil.Error, OSError):
        return None


# How a process tree serves its clients, told from threads, children and
# syscalls together (socketserver's Threading/Forking servers sit in poll
# whatever their model, so no single field decides).
def describe_model(snap: Snapshot) -> str:
    server = snap.server
    if server is None:
        return "the server was not running"
    clients = len(snap.all_connected())
    children = len(snap.children)
    threads = server.threads
    call = server.main_call
    if clients > 1 and children >= clients:
        return f"a process per connection ({children:,} child processes)"
    if clients > 1 and threads > clients:
        return f"a thread per connection ({threads:,} threads; the main thread in {call})"
    if threads > 1:
        return f"{threads} threads for {clients:,} clients (a fixed pool?), the main thread in {call}"
    if children:
        return f"{children} child process{'es' if children > 1 else ''} for {clients:,} clients"
    if call in syscalls.SELECT_CALLS:
        return "one thread waiting in select"
    if call in syscalls.EPOLL_CALLS:
        return "one thread waiting in epoll"
    if call in syscalls.POLL_CALLS:
        return "one thread waiting in poll"
    if call == "running":
        return "one thread, running (spinning?)"
    return f"one thread, blocked in {call}: one client at a time"
