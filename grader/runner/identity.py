"""Who a learner's program runs as, when the grader runs as root.

Why: as root, a learner's program could signal the grader, rewrite its files
and results, and shrug off RLIMIT_NPROC (never enforced for root). So it runs
as an unprivileged user instead, started through util-linux ``setpriv``
(which execs: the program keeps its pid).

Rules:
- Each grading run gets a uid of its own from a pool (``GRADER_LEARNER_UIDS``,
  default 62000-62999: no passwd entry, no process), held with a lock for the
  run. A uid per run means two grading runs side by side cannot signal each
  other's programs or share a process budget, and at the end every process
  of that uid can be killed without touching anything else.
- The program's interpreter is one that uid can run: ``/usr/bin/python3``
  (3.11 or later; the grader's own Python often lives in root's home, mode
  700). Before the first program starts, a probe runs exactly that way and
  must report the right version; if anything in that chain fails the run
  falls back to not dropping privileges and says so — a grading run never
  fails a learner for the grader's own setup.
- The probe also tells how the grader can read that uid's /proc entries
  (descriptor links, fdinfo, syscalls). Root reads them directly where it has
  CAP_SYS_PTRACE; without it (a default Docker container) the kernel lets a
  thread in only while its *file-system* uid is the program's (setfsuid: per
  thread, and it drops root's file powers meanwhile), so the grading thread
  then works as that uid on the file system (``fs_as_learner``) and switches
  back for the few things only root may do (``fs_as_root``). Where neither
  works, the run does not drop privileges at all, and says so: checks that
  read /proc must never judge an unreadable process.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

UID_RANGE = (62000, 62999)
# Interpreters a dropped uid may run, tried in order (GRADER_LEARNER_PYTHON first).
LEARNER_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3", "/usr/bin/python3.13", "/usr/bin/python3.12",
                   "/usr/bin/python3.11")
MIN_PYTHON = (3, 11)
# Prints its pid, its version, and the first of its arguments (the grader's
# own import paths) it cannot read, then waits for its stdin to close.
PROBE = ("import os, sys; bad = [p for p in sys.argv[1:] if not os.access(p, os.R_OK)]; "
         "print(os.getpid(), '%d.%d' % sys.version_info[:2], (bad or ['-'])[0], flush=True); "
         "sys.stdin.read()")


@dataclass
class Identity:
    uid: int
    gid: int
    python: str
    inspect: str | None          # "direct", "fsuid" (see fs_as_learner) or None: cannot
    _lock: int | None = None

    @property
    def inspectable(self) -> bool:
        return self.inspect is not None

    @contextlib.contextmanager
    def fs_as_learner(self):
        """This thread reads and writes files as the program's uid (and can
        read its /proc entries) inside the block; only where needed."""
        if self.inspect != "fsuid":
            yield
            return
        previous = _set_fs(self.uid, self.gid)
        try:
            yield
        finally:
            _set_fs(*previous)

    @contextlib.contextmanager
    def fs_as_root(self):
        """Undo fs_as_learner for this thread inside the block (copying a
        submission, chown, cgroup files)."""
        if self.inspect != "fsuid":
            yield
            return
        previous = _set_fs(0, 0)
        try:
            yield
        finally:
            _set_fs(*previous)

    def setpriv_args(self) -> list[str]:
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups",
                "--no-new-privs", "--inh-caps=-all", "--"]

    def give(self, path: Path) -> None:
        """Hand a fresh work folder to this uid (and to it only)."""
        for root, dirs, files in os.walk(path):
            os.chown(root, self.uid, self.gid)
            for name in files:
                os.chown(os.path.join(root, name), self.uid, self.gid, follow_symlinks=False)
        os.chmod(path, 0o700)

    def processes(self) -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter(["uids"]):
            try:
                if proc.info["uids"] and self.uid in (proc.info["uids"].real, proc.info["uids"].effective):
                    found.append(proc)
            except psutil.Error:
                continue
        return found

    def kill_all(self, deadline: float = 5.0) -> bool:
        """SIGKILL every process running as this uid (they are all the run's),
        until none is left. True when none is."""
        end = time.monotonic() + deadline
        while True:
            procs = [p for p in self.processes() if p.pid != os.getpid()]
            alive = []
            for proc in procs:
                try:
                    if proc.status() != psutil.STATUS_ZOMBIE:
                        proc.send_signal(signal.SIGKILL)
                        alive.append(proc)
                except psutil.Error:
                    continue
            if not alive:
                return True
            psutil.wait_procs(alive, timeout=0.1)
            if time.monotonic() > end:
                return False

    def release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


def _set_fs(uid: int, gid: int) -> tuple[int, int]:
    """setfsuid/setfsgid for this thread only; returns the previous pair."""
    libc = ctypes.CDLL(None, use_errno=True)
    old_gid = libc.setfsgid(gid)
    old_uid = libc.setfsuid(uid)
    return old_uid, old_gid


def _uid_range() -> tuple[int, int]:
    spec = os.environ.get("GRADER_LEARNER_UIDS", "")
    try:
        low, high = (int(x) for x in spec.split("-"))
        if 0 < low <= high:
            return low, high
    except ValueError:
        pass
    return UID_RANGE


def _lock_dir() -> Path | None:
    """A folder only root can write, for the uid locks."""
    for base in (Path("/run/socket-katas"), Path(tempfile.gettempdir()) / "socket-katas-0-uids"):
        try:
            base.mkdir(mode=0o700, exist_ok=True)
            st = os.lstat(base)
            if st.st_uid == 0 and (st.st_mode & 0o077) == 0 and not os.path.islink(base):
                return base
        except OSError:
            continue
    return None


def _unused(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return False
    except KeyError:
        pass
    return True


def _claim_uid() -> tuple[int, int] | None:
    folder = _lock_dir()
    if folder is None:
        return None
    low, high = _uid_range()
    for uid in range(low, high + 1):
        if not _unused(uid):
            continue
        try:
            fd = os.open(folder / f"uid-{uid}.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
                continue
            return None
        return uid, fd
    return None


def _readable(pid: int) -> bool:
    try:
        os.readlink(f"/proc/{pid}/fd/0")
        with open(f"/proc/{pid}/syscall"):
            pass
        return True
    except OSError:
        return False


def _probe(uid: int, python: str) -> tuple[str | None, str | None]:
    """Run ``python`` as ``uid`` the way programs will be; (its version, how
    the grader can read its /proc entries) or (None, None)."""
    own = [p for p in sys.path if p and os.path.exists(p)]
    argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
            "--inh-caps=-all", "--", python, "-I", "-S", "-c", PROBE, *own]
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, cwd="/", env={"PATH": "/usr/bin:/bin"})
    except OSError:
        return None, None
    try:
        line = proc.stdout.readline().decode(errors="replace").split(" ", 2)
        if len(line) != 3 or not line[0].isdigit():
            return None, None
        inspect = None
        if _readable(proc.pid):
            inspect = "direct"
        elif line[2].strip() == "-":
            # Only if the grader's own code stays readable while its thread
            # works as that uid on the file system.
            previous = _set_fs(uid, uid)
            try:
                inspect = "fsuid" if _readable(proc.pid) else None
            finally:
                _set_fs(*previous)
        return line[1], inspect
    finally:
        try:
            proc.stdin.close()
            proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        proc.stdout.close()


def claim() -> tuple[Identity | None, str | None]:
    """An unprivileged identity for this run's programs, or (None, why not)."""
    if os.environ.get("GRADER_LEARNER_UIDS") == "none":
        return None, "GRADER_LEARNER_UIDS=none"
    if shutil.which("setpriv") is None:
        return None, "setpriv (util-linux) is not installed"
    got = _claim_uid()
    if got is None:
        return None, f"no free uid in {_uid_range()[0]}-{_uid_range()[1]} (GRADER_LEARNER_UIDS)"
    uid, lock = got
    identity = Identity(uid=uid, gid=uid, python="", inspect=None, _lock=lock)
    # Whatever a crashed earlier run left running as this uid goes first.
    identity.kill_all()
    tried = []
    wanted = os.environ.get("GRADER_LEARNER_PYTHON")
    for python in ([wanted] if wanted else []) + list(LEARNER_PYTHONS):
        if not os.path.exists(python):
            if python == wanted or python == LEARNER_PYTHONS[0]:
                tried.append(f"{python} is missing")
            continue
        version, inspect = _probe(uid, python)
        if version is None:
            tried.append(f"{python} cannot be run as uid {uid}")
            continue
        if tuple(int(x) for x in version.split(".")) < MIN_PYTHON:
            tried.append(f"{python} is Python {version}, older than {MIN_PYTHON[0]}.{MIN_PYTHON[1]}")
            continue
        if inspect is None:
            tried.append(f"without CAP_SYS_PTRACE the grader cannot read the /proc entries of another "
                         f"user's processes, unless its own Python is readable by all (see README)")
            break
        identity.python, identity.inspect = python, inspect
        return identity, None
    identity.release()
    return None, "; ".join(tried)
