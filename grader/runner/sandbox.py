"""How one grading run contains the programs it grades.

Rules:
- ``begin()`` is called once per grading run, before the grader starts any
  thread: it enters private namespaces (isolation.py), makes the grader a
  child subreaper, and decides, from what this machine allows, how programs
  will be contained. Everything it could not do is said once, in the run's
  notes, and the run goes on with what remains — never with a wrong verdict.
- Every program the run starts (``Program``, ``ClientRun``) goes through
  ``wrap()``: a chain of small tools that each ``exec`` the next, so the
  program's pid is the one the grader started:

      sh (join the program's cgroups) → unshare --mount-proc (its own /proc)
        → prlimit (limits.py) → setpriv (drop to the run's uid) → the program

  Each link appears only where it works: cgroups and the uid drop as root,
  the private /proc as root in a PID namespace.
- ``kill()`` kills a program and everything it started: its cgroup at once
  when it has one, then its tree, its session, and (without a cgroup, which
  would know better) the run's orphans.
- ``close()`` leaves nothing behind: every process of the run's uid, its
  cgroups, its PID namespace (the kernel kills what is left in it).

Which limit applies where:
  root + cgroups      pids.max and memory per program; RLIMIT_NPROC on the
                      run's uid as a backstop
  root, no cgroups    RLIMIT_NPROC on the run's uid (enforced: it is not root);
                      the watchdog samples resident memory; RLIMIT_DATA backstop
  ordinary user       RLIMIT_NPROC above what the grader itself uses (counted
                      in its user namespace); watchdog; RLIMIT_DATA backstop
  always              RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_CORE = 0, descriptors
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import psutil

from grader.errors import UsageError
from grader.runner import identity as identities
from grader.runner import isolation, reaper
from grader.runner.cgroups import RunCgroups
from grader.runner.limits import Limits, human_bytes
from grader.runner.watchdog import Watchdog

# Joins the cgroups named before "--" ("0": the writer itself, whatever PID
# namespace it is in), then execs the rest (same pid). A group it cannot join
# is skipped, never a reason to fail the program: RLIMIT_NPROC and the
# watchdog still hold it.
JOIN = 'while [ "$1" != -- ]; do echo 0 2>/dev/null > "$1"; shift; done; shift; exec "$@"'
NPROC_MARGIN = 64
LEARNER_PATH = "/usr/local/bin:/usr/bin:/bin"

_current: "Sandbox | None" = None


def current() -> "Sandbox | None":
    """The grading run's sandbox, if ``begin()`` was called in this process."""
    return _current


def spawn(sandbox: "Sandbox | None", start):
    """``start()`` — the Popen (or pexpect spawn) of a program — run so that
    the program is born in the run's PID namespace; its result. ``start``
    must not start threads."""
    if sandbox is None:
        return start()
    return sandbox.namespaces.spawn(start)


class Sandbox:
    def __init__(self, limits: Limits, namespaces: isolation.Namespaces,
                 identity: identities.Identity | None, cgroups: RunCgroups | None, notes: list[str]):
        self.limits = limits
        self.namespaces = namespaces
        self.identity = identity
        self.cgroups = cgroups
        self.notes = notes
        self.real_root = os.geteuid() == 0 and not namespaces.user
        self.mount_proc = (self.real_root and namespaces.pids is None
                           and shutil.which("unshare") is not None)
        self.watchdog = Watchdog(self)
        self._printed = {"stdout": 0, "stderr": 0}
        self._kept = 0
        self._ignored_sigterm = 0
        self._closed = False

    # -- what the run got ---------------------------------------------------

    @property
    def private_network(self) -> bool:
        return self.namespaces.network is None

    @property
    def python(self) -> str | None:
        """The interpreter programs must use (None: the grader's own)."""
        return self.identity.python if self.identity else None

    @property
    def memory_cgroup(self) -> bool:
        return self.cgroups is not None and "memory" in self.cgroups.controllers

    @property
    def pids_cgroup(self) -> bool:
        return self.cgroups is not None and "pids" in self.cgroups.controllers

    def adapt(self, launch):
        """The LaunchSpec as this run must start it: with an interpreter the
        program's user can run, and (``--cmd``) files that user can read."""
        if self.identity is None:
            return launch
        launch = replace(launch, python=self.identity.python)
        if launch.source is None:
            argv = list(launch.argv)
            if _same_file(argv[0], sys.executable):
                # The grader's own Python may be out of the program's reach.
                argv[0] = self.identity.python
                launch = replace(launch, argv=tuple(argv))
            self._require_reachable(launch.argv)
        return launch

    def _require_reachable(self, argv) -> None:
        program = shutil.which(argv[0], path=LEARNER_PATH) if "/" not in argv[0] else argv[0]
        if program is None:
            return  # "not found" is the program's own failure to start
        files = [a for a in argv[1:] if a.startswith("/") and os.path.exists(a)]
        script = ('x=$1; shift; [ -x "$x" ] || echo "$x"; '
                  'for p; do [ -r "$p" ] || echo "$p"; done')
        done = subprocess.run([*self.identity.setpriv_args(), "/bin/sh", "-c", script, "sh", program, *files],
                              capture_output=True, text=True, cwd="/", env={"PATH": LEARNER_PATH})
        unreachable = done.stdout.split()
        if unreachable:
            raise UsageError(f"--cmd: {unreachable[0]} cannot be used by the unprivileged user (uid "
                             f"{self.identity.uid}) the grader runs programs as; put it where any user "
                             "can read it")

    # -- starting -----------------------------------------------------------

    def inspecting(self):
        """Around the grading: the grading thread may read the programs'
        /proc entries (identity.py: as their uid on the file system, where
        root cannot otherwise)."""
        if self.identity is None or self.identity.inspect != "fsuid":
            return contextlib.nullcontext()
        # Imported later, scapy would write its cache in root's home as the
        # program's uid, and fail: import it now.
        try:
            import scapy.all  # noqa: F401
        except Exception:   # a broken scapy is the wire checks' to report
            pass
        return self.identity.fs_as_learner()

    def as_root(self):
        """Around what only the grader's own identity may do (copy a
        submission, chown, cgroup files), from any thread."""
        return self.identity.fs_as_root() if self.identity else contextlib.nullcontext()

    def share_folder(self, folder: Path) -> None:
        """Make ``folder`` (the run's evidence) writable by a grading thread
        that works as the program's uid on the file system."""
        if self.identity is None or self.identity.inspect != "fsuid":
            return
        with self.as_root():
            folder.mkdir(parents=True, exist_ok=True)
            os.chown(folder, self.identity.uid, self.identity.gid)
            for parent in folder.parents:
                if parent == Path(tempfile.gettempdir()) or parent == Path("/"):
                    break
                st = os.stat(parent)
                if st.st_uid == os.geteuid():
                    os.chmod(parent, stat.S_IMODE(st.st_mode) | 0o011)

    def prepare(self, run, workdir: Path | None) -> None:
        """Before the run starts: its work folder is handed to the program's user."""
        if self.identity is not None and workdir is not None:
            with self.as_root():
                self.identity.give(workdir)

    def wrap(self, run, argv: list[str], nofile: tuple[int, int] | None = None) -> list[str]:
        """``argv`` started inside this sandbox (each link execs the next)."""
        chain: list[str] = []
        limits = self.limits if nofile is None else replace(self.limits, nofile=nofile)
        if self.cgroups is not None:
            try:
                with self.as_root():
                    group = self.cgroups.group(limits.processes, limits.memory)
            except OSError:
                group = None    # the watchdog and RLIMIT_NPROC still hold it
            if group is not None:
                run._group = group
                chain += ["/bin/sh", "-c", JOIN, "socket-katas-join", *group.procs_files, "--"]
        if self.mount_proc:
            chain += ["unshare", "--mount-proc", "--"]
        chain += ["prlimit", *limits.prlimit_args(nproc=self._nproc(), data=not self.memory_cgroup), "--"]
        if self.identity is not None:
            chain += self.identity.setpriv_args()
        return chain + list(argv)

    def _nproc(self) -> int | None:
        """RLIMIT_NPROC for the next program. It counts every task of the
        program's real uid, so it is set above what that uid already runs."""
        if self.identity is not None:
            # The run's own uid: only this run's programs count. Above the
            # limit the watchdog enforces, so it sees a bomb cross the limit
            # while it still forks, not spinning at a ceiling it never reaches.
            return self.limits.processes * 4 if self.pids_cgroup else self.limits.processes + NPROC_MARGIN
        if self.real_root:
            return None   # never enforced for root
        return self.limits.processes + _tasks_of_my_uid(self.namespaces.user) + NPROC_MARGIN

    def started(self, run) -> None:
        self.watchdog.watch(run)

    # -- stopping -----------------------------------------------------------

    def kill(self, run) -> None:
        """SIGKILL the program and everything it started."""
        group = getattr(run, "_group", None)
        if group is not None:
            with self.as_root():
                group.kill()
        reaper.kill_everything(run.pid, sid=run.pid, with_orphans=group is None)

    def finished(self, run) -> None:
        """After the program was reaped: keep what its cgroup knew (which
        limit it hit), then remove the cgroup."""
        self.watchdog.forget(run)
        group = getattr(run, "_group", None)
        if group is not None:
            if run.limit_hit is None:
                hits = group.events()
                run.limit_hit = "processes" if hits["processes"] else "memory" if hits["memory"] else None
            with self.as_root():
                group.kill(deadline=2.0)
                group.remove()
            run._group = None

    def limit_reached(self, run, returncode: int | None, stderr_text: str) -> str | None:
        """Which limit ended ``run``, in words, or None."""
        kind = self.limit_kind(run, returncode, stderr_text)
        return self.limits.describe(kind) if kind else None

    def limit_kind(self, run, returncode: int | None, stderr_text: str) -> str | None:
        """Which limit ended ``run``: the watchdog's finding, the cgroup's
        counters, or how it died (SIGXCPU; a write refused with EFBIG;
        MemoryError under the RLIMIT_DATA backstop). None: no limit did."""
        kind = run.limit_hit
        group = getattr(run, "_group", None)
        if kind is None and group is not None:
            hits = group.events()
            kind = "processes" if hits["processes"] else "memory" if hits["memory"] else None
        tail = stderr_text[-4096:]
        if kind is None and returncode == -signal.SIGXCPU:
            kind = "cpu"
        if kind is None and (returncode == -signal.SIGXFSZ or "[Errno 27] File too large" in tail):
            kind = "file_size"
        if kind is None and returncode not in (None, 0) and "MemoryError" in tail and not self.memory_cgroup:
            kind = "memory"
        return kind

    def account_output(self, stream: str, total: int, kept: int) -> None:
        self._printed[stream] += total
        self._kept = max(self._kept, kept)

    def ignored_sigterm(self) -> None:
        self._ignored_sigterm += 1

    def closing_notes(self, label: str = "the program") -> list[str]:
        notes = []
        for stream, total in self._printed.items():
            if total > 64 * 1024 * 1024:
                notes.append(f"{label} printed {human_bytes(total)} on {stream} in this run; only the last "
                             f"{human_bytes(self._kept)} of each start were kept")
        if self._ignored_sigterm:
            notes.append(f"{label} did not exit within its grace period after SIGTERM "
                         f"({self._ignored_sigterm}× in this run) and was killed")
        return notes

    def close(self) -> None:
        """Nothing the run started survives it."""
        global _current
        if self._closed:
            return
        self._closed = True
        self.watchdog.close()
        for proc in reaper.orphans():
            reaper.kill_everything(proc.pid)
        if self.identity is not None:
            self.identity.kill_all()
        if self.cgroups is not None:
            self.cgroups.close()
        self.namespaces.close()
        if self.identity is not None:
            self.identity.release()
        if _current is self:
            _current = None


def private_folder(path: Path) -> Path:
    """``path`` when it is this user's folder and nobody else may write in it
    (made so if missing); otherwise a fresh private folder beside it. A
    program could have made ``/tmp/socket-katas-0`` first, open to all, to
    tamper with the evidence or plant links there."""
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(path)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022:
            return path
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix=path.name + "-"))


def sweep_workdirs(uid: int | None = None) -> None:
    """Remove the work folders of graders that are gone (they were killed
    before cleaning up), and, given the run's uid, any folder it owns: the
    uid is this run's now, so what it owns is a dead run's."""
    from grader.runner.launch import WORKDIR_PREFIX
    for folder in Path(tempfile.gettempdir()).glob(WORKDIR_PREFIX + "*"):
        try:
            st = folder.lstat()
        except OSError:
            continue
        pid = folder.name[len(WORKDIR_PREFIX):].split("-", 1)[0]
        dead = pid.isdigit() and not psutil.pid_exists(int(pid))
        if stat.S_ISDIR(st.st_mode) and (dead or (uid is not None and st.st_uid == uid)):
            shutil.rmtree(folder, ignore_errors=True)   # (an ordinary user removes only its own)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _tasks_of_my_uid(in_user_namespace: bool) -> int:
    """Tasks (threads included) that RLIMIT_NPROC counts for this uid: in a
    user namespace of its own, those in it; otherwise all of them."""
    uid = os.getuid()
    own_ns = _userns(os.getpid())
    count = 0
    for proc in psutil.process_iter(["uids", "num_threads"]):
        try:
            if proc.info["uids"] is None or proc.info["uids"].real != uid:
                continue
            if in_user_namespace and _userns(proc.pid) != own_ns:
                continue
            count += proc.info["num_threads"] or 1
        except psutil.Error:
            continue
    return count


def _userns(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/user").st_ino
    except OSError:
        return None


def begin(params: dict, *, network: bool = True) -> Sandbox:
    """Set up containment for one grading run (see the module's rules)."""
    global _current
    ns = isolation.enter(network=network, pids=True)
    reaper.become_subreaper()
    reaper.adopt_init(ns.init_pid)
    notes = list(ns.notes)
    identity = cgroups = None
    if os.geteuid() == 0 and not ns.user:
        try:
            identity, why = identities.claim()
        except OSError as exc:
            identity, why = None, f"the uid drop failed: {exc}"
        if identity is None:
            notes.append(f"programs run as root here ({why}): they could signal the grader or change its files")
        if os.environ.get("GRADER_CGROUPS", "1") != "0":
            try:
                cgroups, _ = RunCgroups.create()
            except OSError:
                cgroups = None
    elif ns.pids is not None:
        notes.append(f"{ns.pids}: programs run as you and could signal your other processes")
    sweep_workdirs(identity.uid if identity else None)
    sandbox = Sandbox(Limits.for_kata(params), ns, identity, cgroups, notes)
    _current = sandbox
    return sandbox
