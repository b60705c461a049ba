"""Private namespaces for one grading run.

Why a network namespace: the learner's program and the grader's probes then
share a loopback that nothing else on the machine uses. Ports cannot collide
with a second grading run beside this one, TIME_WAIT sockets vanish with the
namespace, and a submission cannot reach any other host.

Why a PID namespace: every process the grader starts after entering it lives
in it, and the learner's programs see only one another. A program cannot
signal the grader (its parent is outside: ``getppid()`` is 0) nor any other
process on the machine (``kill(-1, ...)`` reaches only the namespace), which
matters most when the grader runs as an ordinary user and the program as the
same user. The namespace's first process is a small init of the grader's
(``pidns_init``): orphans are re-parented to it, it reaps them, and when it
dies the kernel kills everything left in the namespace. It dies with the
grader even when the grader is SIGKILLed (it waits on a pipe only the grader
holds). An IPC namespace comes along, so SysV shared memory a program leaves
behind dies with the run too.

How: as root the grader unshares the namespaces directly; as an ordinary user
it first enters a private user namespace (where it also gains CAP_NET_RAW for
scapy). The user and network namespaces must be entered before the grader
starts any thread: unshare() changes only the calling thread, and
CLONE_NEWUSER is refused to a threaded process. The PID namespace is made,
and later entered, by short-lived threads of their own (``_in_thread``):
a thread whose children go to another PID namespace cannot start threads. Whatever cannot be made is reported once, and the run goes on
without it (the host's loopback; the subreaper instead of the init).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

T = TypeVar("T")

CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
PR_SET_DUMPABLE = 4

# The namespace's init: reap every orphan; exit when the grader's pipe closes
# (the grader exited or died), which makes the kernel kill the namespace.
INIT = """
import os, signal, sys
def reap(*_):
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
signal.signal(signal.SIGCHLD, reap)
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
    signal.signal(sig, signal.SIG_IGN)
reap()
fd = int(sys.argv[1])
while os.read(fd, 1):
    pass
"""


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _unshare(flags: int) -> None:
    if _libc().unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))


@dataclass
class Namespaces:
    """What this run got: each field is None when made, else why not."""

    network: str | None = "not asked for"
    pids: str | None = "not asked for"
    user: bool = False                       # the grader entered a user namespace
    init: subprocess.Popen | None = None     # the PID namespace's init
    _pipe: int | None = None
    _pidns: int | None = None                # the run's PID namespace
    _ipcns: int | None = None                # and its IPC namespace
    notes: list[str] = field(default_factory=list)

    def spawn(self, start: Callable[[], T]) -> T:
        """Run ``start()`` (a Popen, a pexpect spawn) so that the processes it
        creates are born in the run's PID and IPC namespaces, and return its
        result. ``start`` must not start threads."""
        if self._pidns is None:
            return start()
        return _in_thread(lambda: (_setns(self._pidns, CLONE_NEWPID),
                                   _setns(self._ipcns, CLONE_NEWIPC), start())[-1])

    @property
    def init_pid(self) -> int | None:
        return self.init.pid if self.init is not None else None

    def close(self) -> None:
        """End the PID namespace: the kernel kills whatever is left in it.
        Call after every program was stopped and reaped (the init waits for
        the grader to reap its own children in the namespace)."""
        if self.init is None:
            return
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
        try:
            self.init.kill()
        except OSError:
            pass
        # The init waits until every process of the namespace is reaped,
        # including the grader's own children there: reap them meanwhile.
        end = time.monotonic() + 5
        while self.init.poll() is None and time.monotonic() < end:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.005)
        self.init = None
        for fd in (self._pidns, self._ipcns):
            if fd is not None:
                os.close(fd)
        self._pidns = self._ipcns = None


def _in_thread(fn: Callable[[], T]) -> T:
    """``fn()`` in a thread of its own, which ends with it.

    Why: the namespace a thread's *children* are born in belongs to that
    thread, and a thread whose children go to another PID namespace can
    never start a thread again (the kernel refuses), nor — as an ordinary
    user — come back. So namespace changes happen in a throwaway thread."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:    # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name="spawn-in-namespace")
    thread.start()
    try:
        thread.join()
    finally:
        thread.join()   # even when a signal interrupted the first join
    if "error" in box:
        raise box["error"]
    return box["value"]


def _enter_user_namespace() -> None:
    uid, gid = os.geteuid(), os.getegid()
    _unshare(CLONE_NEWUSER)
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")


def _setns(fd: int, nstype: int) -> None:
    if _libc().setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _start_init(ns: Namespaces) -> None:
    """Make the PID namespace (in a throwaway thread: see _in_thread); its
    first process, the init, is its pid 1, and holds it open."""
    read_end, write_end = os.pipe()

    def make():
        _unshare(CLONE_NEWPID | CLONE_NEWIPC)
        return subprocess.Popen([sys.executable, "-S", "-E", "-c", INIT, str(read_end)],
                                pass_fds=(read_end,), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True, cwd="/")
    try:
        ns.init = _in_thread(make)
    except OSError:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    ns._pipe = write_end
    ns._pidns = os.open(f"/proc/{ns.init.pid}/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    ns._ipcns = os.open(f"/proc/{ns.init.pid}/ns/ipc", os.O_RDONLY | os.O_CLOEXEC)


def enter(network: bool = True, pids: bool = True) -> Namespaces:
    """Move this process into the namespaces asked for, as far as the kernel
    allows. Must run before the grader starts any thread or child."""
    ns = Namespaces(network="not asked for" if not network else None,
                    pids="not asked for" if not pids else None)
    root = os.geteuid() == 0
    if not root:
        try:
            _enter_user_namespace()
            ns.user = True
        except OSError as exc:
            why = f"no user namespace ({exc.strerror})"
            if network:
                ns.network = why
            if pids:
                ns.pids = why
    if network and ns.network is None:
        try:
            _unshare(CLONE_NEWNET)
            _loopback_up()
        except OSError as exc:
            ns.network = f"no private network namespace ({exc.strerror})"
    if pids and ns.pids is None:
        try:
            _start_init(ns)
        except OSError as exc:
            ns.pids = f"no private PID namespace ({exc.strerror})"
    if ns.network and network:
        ns.notes.append(f"{ns.network}: graded on the host's loopback")
    if ns.user:
        # The program runs as this same user: make the grader's /proc entries
        # (its descriptors, its memory) out of the program's reach.
        _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    return ns


def enter_private_network() -> str | None:
    """The network namespace alone (kept for callers of the old interface):
    None on success, else why not."""
    ns = enter(network=True, pids=False)
    return ns.notes[0] if ns.notes else None
