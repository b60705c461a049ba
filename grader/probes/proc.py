"""What a process *is*, read from /proc and psutil: its descriptors and what
they point at, its sockets, threads, children, zombies, the syscall each
thread is blocked in, and whether it sleeps. Every function tolerates the
process vanishing under it (it returns what it could see)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import psutil

from grader.probes import syscalls
from grader.runner import reaper

_KIND = {"tcp": "tcp", "udp": "udp"}


def _proc(pid):
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def descendants(pid: int) -> list[psutil.Process]:
    return reaper.tree(pid)


def fd_table(pid: int) -> dict[int, str]:
    """fd -> what it points at (``socket:[123]``, ``anon_inode:[eventpoll]``,
    ``/dev/null`` ...)."""
    table = {}
    base = f"/proc/{pid}/fd"
    try:
        names = os.listdir(base)
    except OSError:
        return table
    for name in names:
        try:
            table[int(name)] = os.readlink(f"{base}/{name}")
        except OSError:
            continue
    return table


def socket_fds(pid: int) -> dict[int, int]:
    """fd -> socket inode."""
    return {fd: int(target[8:-1]) for fd, target in fd_table(pid).items() if target.startswith("socket:[")}


def connections(pid: int, kind: str = "tcp"):
    """psutil's view of one process's sockets: fd, family, laddr, raddr, status."""
    p = _proc(pid)
    if p is None:
        return []
    try:
        return p.net_connections(kind=_KIND.get(kind, kind))
    except psutil.Error:
        return []


def tree_connections(pid: int, kind: str = "tcp"):
    found = []
    for p in descendants(pid):
        try:
            found.extend((p.pid, c) for c in p.net_connections(kind=_KIND.get(kind, kind)))
        except psutil.Error:
            continue
    return found


def bound_socket(pid: int, transport: str, port: int):
    """The (pid, connection) in the tree listening on TCP ``port`` (or bound to
    UDP ``port``), or None."""
    for owner, conn in tree_connections(pid, transport):
        if conn.laddr and conn.laddr.port == port:
            if transport == "udp" or conn.status == psutil.CONN_LISTEN:
                return owner, conn
    return None


def system_connections(port: int, kind: str = "tcp"):
    """Every socket on the machine (this network namespace) with local ``port``,
    owned or not: TIME_WAIT sockets belong to no process."""
    try:
        return [c for c in psutil.net_connections(kind=kind) if c.laddr and c.laddr.port == port]
    except psutil.Error:
        return []


def family_name(family) -> str:
    return {socket.AF_INET: "IPv4 (AF_INET)", socket.AF_INET6: "IPv6 (AF_INET6)"}.get(family, str(family))


@dataclass
class ThreadState:
    tid: int
    syscall: str       # name, "running", or "unknown"


def thread_states(pid: int) -> list[ThreadState]:
    states = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return states
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                first = f.read().split()[0]
        except (OSError, IndexError):
            states.append(ThreadState(int(tid), "unknown"))
            continue
        if first == "running":
            states.append(ThreadState(int(tid), "running"))
        else:
            try:
                states.append(ThreadState(int(tid), syscalls.name(int(first))))
            except ValueError:
                states.append(ThreadState(int(tid), "unknown"))
    return states


def num_threads(pid: int) -> int:
    p = _proc(pid)
    try:
        return p.num_threads() if p else 0
    except psutil.Error:
        return 0


def children(pid: int) -> list[psutil.Process]:
    p = _proc(pid)
    try:
        return p.children(recursive=True) if p else []
    except psutil.Error:
        return []


def zombies(pid: int) -> list[psutil.Process]:
    found = []
    for child in children(pid):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.Error:
            continue
    return found


@dataclass
class Activity:
    cpu_seconds: float
    voluntary_switches: int


def activity(pid: int) -> Activity | None:
    """CPU time and voluntary context switches of all the process's threads:
    two samples apart tell whether it sleeps or spins."""
    p = _proc(pid)
    if p is None:
        return None
    try:
        times = p.cpu_times()
        switches = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches"):
                        switches += int(line.split()[1])
        return Activity(times.user + times.system, switches)
    except (psutil.Error, OSError):
        return None


def epoll_targets(pid: int) -> dict[int, set[int]]:
    """epoll fd -> the descriptors registered in it (``tfd:`` lines of fdinfo)."""
    found = {}
    for fd, target in fd_table(pid).items():
        if target != "anon_inode:[eventpoll]":
            continue
        tfds = set()
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("tfd:"):
                        tfds.add(int(line.split()[1]))
        except OSError:
            continue
        found[fd] = tfds
    return found


def rss_bytes(pid: int) -> int:
    p = _proc(pid)
    try:
        return p.memory_info().rss if p else 0
    except psutil.Error:
        return 0
