"""One run of a learner's program.

Why the program gets its own session: a server that forks leaves children in
its process group and session, and a stop must reach all of them; ``reaper``
catches those that leave the session too.

How the grader knows a server is ready: it watches the kernel's socket tables
for a socket bound to the port it gave, owned by the program's process tree,
with a deadline. No fixed sleep: a fast program is probed at once, a slow one
gets the whole allowance.

Containment (sandbox.py): the program is started through the run's sandbox,
whose wrappers each exec the next, so ``pid`` is the program's own. The
sandbox's watchdog may kill a program that reaches a limit; ``limit_hit``
then says which, and every message about its death says so in one line.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from grader.errors import ProgramUnavailable
from grader.probes import proc
from grader.runner import limits, reaper
from grader.runner import sandbox as sandboxes
from grader.runner.launch import LaunchSpec, learner_env
from grader.runner.output import OutputTail

POLL = 0.01


@dataclass
class ExitInfo:
    returncode: int | None
    honoured_sigterm: bool | None = None

    def describe(self) -> str:
        rc = self.returncode
        if rc is None:
            return "is still running"
        if rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = f"signal {-rc}"
            return f"was killed by {name}"
        return f"exited with status {rc}"


class Program:
    def __init__(self, spec: LaunchSpec, values: dict, *, stdin=subprocess.DEVNULL,
                 sandbox=None, nofile: tuple[int, int] | None = None):
        self.spec = spec
        self.values = dict(values)
        self.stdin = stdin
        self.sandbox = sandbox
        self.proc: subprocess.Popen | None = None
        self.workdir: Path | None = None
        self.stdout: OutputTail | None = None
        self.stderr: OutputTail | None = None
        self.exit: ExitInfo | None = None
        self.argv: list[str] = []
        self.nofile = nofile
        self.limit_hit: str | None = None     # "processes", "memory", "cpu", "file_size"
        self._group = None                    # its cgroups (sandbox.py), while it runs
        self._sandbox = None

    # -- life cycle -------------------------------------------------------

    def start(self) -> "Program":
        sandbox = self.sandbox if isinstance(self.sandbox, sandboxes.Sandbox) else sandboxes.current()
        self._sandbox = sandbox
        self.workdir = self.spec.fresh_workdir()
        python = sandbox.python if sandbox is not None and sandbox.python else None
        spec = self.spec if python is None or self.spec.python != sys.executable \
            else replace(self.spec, python=python)
        self.argv = spec.render(self.values)
        launch_argv = self.argv
        if sandbox is not None:
            sandbox.prepare(self, self.workdir)
            launch_argv = sandbox.wrap(self, self.argv, nofile=self.nofile)
        elif self.nofile:
            # prlimit execs the program: its pid is the learner's own.
            soft, hard = limits.nofile(*self.nofile)
            launch_argv = ["prlimit", f"--nofile={soft}:{hard}", "--", *self.argv]
        kwargs = {}
        if self.sandbox is not None and hasattr(self.sandbox, "popen_kwargs"):
            kwargs = self.sandbox.popen_kwargs(self)
        try:
            env = {**learner_env(self.workdir), **self.spec.extra_env}
            self.proc = sandboxes.spawn(sandbox, lambda: subprocess.Popen(
                launch_argv, cwd=self.workdir, env=env, stdin=self.stdin, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True, close_fds=True, **kwargs))
        except OSError as exc:
            if sandbox is not None:
                sandbox.finished(self)
            raise ProgramUnavailable(f"{self.spec.label} could not be started: {exc.strerror}: {self.argv[0]}")
        reaper.own(self.proc.pid)
        self.stdout = OutputTail(self.proc.stdout)
        self.stderr = OutputTail(self.proc.stderr)
        if sandbox is not None:
            sandbox.started(self)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def command_line(self) -> str:
        import shlex
        return shlex.join(self.argv)

    def wait_ready(self, transport: str, host: str, port: int, timeout: float) -> float:
        """Block until the program holds a listening TCP socket (or a bound UDP
        socket) on host:port; return how long that took."""
        start = time.monotonic()
        end = start + timeout
        while True:
            if not self.alive:
                notice = self.death_notice(f"before listening on {_fmt(host, port)}")
                if self.not_implemented:
                    raise ProgramUnavailable(notice, hint="", details=self.stderr_excerpt(1))
                hint = limits.hint(self.limit_kind())
                if hint is None and self.proc.returncode == 0:
                    hint = ("a server runs until it receives SIGTERM: never exit on your own, and do not "
                            "daemonize (fork and let the parent exit)")
                raise ProgramUnavailable(notice, hint=hint, details=self.stderr_excerpt())
            # The kernel's table first (one read): only a socket on the port
            # is worth looking for in the tree, which costs a read per process
            # of the tree (a fork bomb's is large, and the watchdog then needs
            # the interpreter's attention more than this loop does).
            if _port_in_use(transport, port) and proc.bound_socket(self.pid, transport, port) is not None:
                return time.monotonic() - start
            if time.monotonic() > end:
                raise ProgramUnavailable(
                    f"{self.spec.label} never started listening on {_fmt(host, port)} "
                    f"({transport.upper()}) within {timeout:.1f} s",
                    hint="bind() to exactly the --host and --port you were given, then listen()",
                    details=self.stderr_excerpt())
            time.sleep(POLL)

    def stop(self, grace: float = 1.0) -> ExitInfo:
        """SIGTERM, then SIGKILL after ``grace`` seconds; everything it started
        is killed either way."""
        if self.proc is None:
            return ExitInfo(None)
        if self.exit is not None:
            return self.exit
        honoured = None
        if self.proc.poll() is None:
            honoured = self.terminate(grace) is not None
            if not honoured and self._sandbox is not None:
                self._sandbox.ignored_sigterm()
        self._finish(honoured)
        return self.exit

    def terminate(self, timeout: float) -> int | None:
        """SIGTERM to the program's process group, then wait up to ``timeout``
        seconds for the program to exit by itself. Returns its exit status
        (negative: the signal that killed it), or None if it still runs.
        Never escalates: ``stop()`` or ``kill()`` cleans up afterwards."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> ExitInfo:
        """SIGKILL at once: what a crash or an operator's kill -9 looks like."""
        if self.proc is not None and self.exit is None:
            self._finish(None)
        return self.exit

    def _finish(self, honoured):
        if self._sandbox is not None:
            self._sandbox.kill(self)
        else:
            reaper.kill_everything(self.proc.pid, sid=self.proc.pid)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        reaper.disown(self.proc.pid)
        for tail in (self.stdout, self.stderr):
            if tail:
                tail.join(0.5)
        if self._sandbox is not None:
            self._sandbox.finished(self)
            for name, tail in (("stdout", self.stdout), ("stderr", self.stderr)):
                if tail:
                    self._sandbox.account_output(name, tail.total, tail.limit)
        self.exit = ExitInfo(self.proc.returncode, honoured)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def restarted_unstarted(self) -> "Program":
        """A new run of the same program with the same arguments (same port),
        not started yet."""
        return Program(self.spec, self.values, stdin=self.stdin, sandbox=self.sandbox, nofile=self.nofile)

    # -- messages ---------------------------------------------------------

    def death_notice(self, when: str) -> str:
        """One line: how the program ended, ``when`` ("before listening on
        ..."), and its last line on stderr — or which limit stopped it."""
        rc = self.proc.poll() if self.proc else None
        info = ExitInfo(rc)
        last = self.stderr.last_lines(1) if self.stderr else []
        if self.stderr:
            self.stderr.join(0.5)
            last = self.stderr.last_lines(1)
        limit = self.limit_reached()
        if limit is not None:
            return f"{self.spec.label} was stopped {when}: {limit}"
        if last and "NotImplementedError" in last[-1]:
            return f"not implemented yet: {self.spec.label} still raises NotImplementedError (fill in the TODOs)"
        tail = f": {last[-1]}" if last else ""
        return f"{self.spec.label} {info.describe()} {when}{tail}"

    def limit_reached(self) -> str | None:
        """Which limit ended the program, in words (None: no limit did)."""
        kind = self.limit_kind()
        return self._sandbox.limits.describe(kind) if kind else None

    def limit_kind(self) -> str | None:
        """"processes", "memory", "cpu", "file_size" or None."""
        if self._sandbox is None:
            return None
        rc = self.proc.poll() if self.proc else None
        return self._sandbox.limit_kind(self, rc, self.stderr.text() if self.stderr else "")

    def output_notice(self) -> list[str]:
        """"printed 2.1 GB; only the last 16 KB were kept", per flooded stream."""
        notes = []
        for name, tail in (("stdout", self.stdout), ("stderr", self.stderr)):
            if tail and tail.flooded:
                notes.append(f"{self.role_prefix or ''}{name}: printed {limits.human_bytes(tail.total)}; "
                             f"only the last {limits.human_bytes(tail.limit)} were kept")
        return notes

    def stderr_excerpt(self, n: int = 5) -> list[str]:
        if not self.stderr:
            return []
        lines = [f"{self.role_prefix}stderr> {line}" for line in self.stderr.last_lines(n)]
        return lines + [f"({note})" for note in self.output_notice()]

    @property
    def role_prefix(self) -> str:
        return ""

    @property
    def not_implemented(self) -> bool:
        return bool(self.stderr) and "NotImplementedError" in self.stderr.text()


def _port_in_use(transport: str, port: int) -> bool:
    """Some socket (listening, for TCP) on local ``port`` in /proc/net."""
    suffix = f":{port:04X}"
    for table in (f"/proc/net/{transport}", f"/proc/net/{transport}6"):
        try:
            with open(table) as f:
                next(f, None)
                for line in f:
                    fields = line.split(None, 4)
                    if len(fields) > 3 and fields[1].endswith(suffix) and (transport == "udp" or fields[3] == "0A"):
                        return True
        except OSError:
            continue
    return False


def _fmt(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
