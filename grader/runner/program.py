"""One run of a learner's program.

Why the program gets its own session: a server that forks leaves children in
its process group and session, and a stop must reach all of them; ``reaper``
catches those that leave the session too.

How the grader knows a server is ready: it watches the kernel's socket tables
for a socket bound to the port it gave, owned by the program's process tree,
with a deadline. No fixed sleep: a fast program is probed at once, a slow one
gets the whole allowance.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from grader.errors import ProgramUnavailable
from grader.probes import proc
from grader.runner import limits, reaper
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

    # -- life cycle -------------------------------------------------------

    def start(self) -> "Program":
        self.workdir = self.spec.fresh_workdir()
        self.argv = self.spec.render(self.values)
        if self.nofile:
            # prlimit execs the program: its pid is the learner's own.
            soft, hard = limits.nofile(*self.nofile)
            self.argv = ["prlimit", f"--nofile={soft}:{hard}", "--", *self.argv]
        kwargs = {}
        if self.sandbox is not None:
            kwargs = self.sandbox.popen_kwargs(self)
        try:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.workdir, env={**learner_env(self.workdir), **self.spec.extra_env},
                stdin=self.stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True, close_fds=True, **kwargs)
        except OSError as exc:
            raise ProgramUnavailable(f"{self.spec.label} could not be started: {exc.strerror}: {self.argv[0]}")
        reaper.own(self.proc.pid)
        self.stdout = OutputTail(self.proc.stdout)
        self.stderr = OutputTail(self.proc.stderr)
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
                raise ProgramUnavailable(notice, details=self.stderr_excerpt())
            if proc.bound_socket(self.pid, transport, port) is not None:
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
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(grace)
                honoured = True
            except subprocess.TimeoutExpired:
                honoured = False
        self._finish(honoured)
        return self.exit

    def kill(self) -> ExitInfo:
        """SIGKILL at once: what a crash or an operator's kill -9 looks like."""
        if self.proc is not None and self.exit is None:
            self._finish(None)
        return self.exit

    def _finish(self, honoured):
        reaper.kill_everything(self.proc.pid, sid=self.proc.pid)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        reaper.disown(self.proc.pid)
        for tail in (self.stdout, self.stderr):
            if tail:
                tail.join(0.5)
        self.exit = ExitInfo(self.proc.returncode, honoured)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def restarted_unstarted(self) -> "Program":
        """A new run of the same program with the same arguments (same port),
        not started yet."""
        return Program(self.spec, self.values, stdin=self.stdin, sandbox=self.sandbox, nofile=self.nofile)

    # -- messages ---------------------------------------------------------

    def death_notice(self, when: str) -> str:
        rc = self.proc.poll() if self.proc else None
        info = ExitInfo(rc)
        last = self.stderr.last_lines(1) if self.stderr else []
        if self.stderr:
            self.stderr.join(0.5)
            last = self.stderr.last_lines(1)
        if last and "NotImplementedError" in last[-1]:
            return f"not implemented yet: {self.spec.label} still raises NotImplementedError (fill in the TODOs)"
        tail = f": {last[-1]}" if last else ""
        return f"{self.spec.label} {info.describe()} {when}{tail}"

    def stderr_excerpt(self, n: int = 5) -> list[str]:
        if not self.stderr:
            return []
        return [f"{self.role_prefix}stderr> {line}" for line in self.stderr.last_lines(n)]

    @property
    def role_prefix(self) -> str:
        return ""

    @property
    def not_implemented(self) -> bool:
        return bool(self.stderr) and "NotImplementedError" in self.stderr.text()


def _fmt(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
