"""One run of a learner's *client*, driven as a person at a terminal would.

Rule 1: the client's stdin and stdout are a pseudo-terminal (pexpect, polled
with poll(), never select(): the grader may hold more than 1,024 descriptors)
and its stderr a separate pipe (put on descriptor 2 in the child, before
exec), so an error message is never mistaken for output and its exit status
is the client's own. The terminal does not echo what is typed and does not
turn "\\n" into "\\r\\n" (``stty -opost`` in a small ``sh`` wrapper that then
``exec``s the client: the pid stays the client's), so the bytes read are the
bytes the client wrote. With ``terminal=False`` stdin and stdout are plain
pipes instead: a client that never flushes its output shows only there.

Rule 2: every read has a deadline and a byte cap; a reader thread drains
stdout all the time, so a client is never blocked on a full terminal, and a
check waits on what was printed, never with a fixed sleep.

Rule 3: like a server, a client starts in a fresh copy of its folder, with
the environment the grader chose (``learner_env``: no PYTHONUNBUFFERED), and
inside the run's sandbox (``sandbox.wrap``: limits, its own uid, its PID
namespace; each link execs the next, so the pid is the client's own). It is
killed, with everything it started, when its check ends.

Rule 4: a client that died raising NotImplementedError is the untouched
stub: every observation that finds it dead says "not implemented yet", once,
instead of judging the property.
"""

from __future__ import annotations

import os
import select
import shlex
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from grader.errors import Failure
from grader.runner import reaper
from grader.runner import sandbox as sandboxes
from grader.runner.launch import LaunchSpec, learner_env
from grader.runner.output import OutputTail
from grader.runner.program import ExitInfo

OUTPUT_CAP = 1 << 20      # bytes of stdout kept; a flood beyond it is only counted
POLL = 0.01


def _pty_spawn_class():
    import pexpect
    import ptyprocess

    class _Spawn(pexpect.spawn):
        """pexpect.spawn that lets one extra descriptor (the stderr pipe)
        through to the child; pexpect itself closes all but 0, 1 and 2
        before ``preexec_fn`` runs."""

        def __init__(self, *args, pass_fds=(), **kwargs):
            self._pass_fds = tuple(pass_fds)
            super().__init__(*args, **kwargs)

        def _spawnpty(self, args, **kwargs):
            return ptyprocess.PtyProcess.spawn(args, pass_fds=self._pass_fds, **kwargs)

    return _Spawn


class ClientRun:
    """A learner's client, started with ``values`` filled into its command."""

    def __init__(self, spec: LaunchSpec, values: dict, *, terminal: bool = True):
        self.spec = spec
        self.values = dict(values)
        self.terminal = terminal
        self.argv: list[str] = []
        self.workdir: Path | None = None
        self.exit: ExitInfo | None = None
        self._child = None            # pexpect spawn (terminal) or Popen (pipes)
        self._stderr: OutputTail | None = None
        self._out = bytearray()
        self._out_total = 0
        self._out_eof = False
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self._exit_lock = threading.Lock()     # the sandbox's watchdog asks `alive` from its thread
        self._returncode: int | None = None
        self._sandbox = None
        self._group = None                     # its cgroups (sandbox.py), while it runs
        self.limit_hit: str | None = None      # set by the sandbox's watchdog

    # -- life cycle -------------------------------------------------------

    def start(self) -> "ClientRun":
        sandbox = sandboxes.current()
        self._sandbox = sandbox
        self.workdir = self.spec.fresh_workdir()
        spec = self.spec
        if sandbox is not None and sandbox.python and spec.python == sys.executable:
            spec = replace(spec, python=sandbox.python)
        self.argv = spec.render(self.values)
        launch_argv = self.argv
        if sandbox is not None:
            sandbox.prepare(self, self.workdir)
            launch_argv = sandbox.wrap(self, self.argv)
        env = {**learner_env(self.workdir), **self.spec.extra_env}
        try:
            if self.terminal:
                self._start_terminal(launch_argv, env, sandbox)
            else:
                self._start_pipes(launch_argv, env, sandbox)
        except Failure:
            if sandbox is not None:
                sandbox.finished(self)
            raise
        # Threads only now: none may start while a child is being spawned
        # into the run's PID namespace.
        self._stderr = OutputTail(self._stderr_stream)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        if sandbox is not None:
            sandbox.started(self)
        return self

    def _start_terminal(self, argv, env, sandbox):
        import pexpect
        err_read, err_write = os.pipe()

        def stderr_to_pipe():
            # In the child, after pexpect closed all but 0-2 and err_write.
            os.dup2(err_write, 2)
            os.close(err_write)

        # The wrapper runs before the client's first byte, so the terminal is
        # raw on output from the start; `exec` keeps the pid.
        script = 'stty -opost 2>/dev/null; exec "$@"'
        try:
            self._child = sandboxes.spawn(sandbox, lambda: _pty_spawn_class()(
                "/bin/sh", ["-c", script, "sh", *argv], cwd=str(self.workdir), env=env, echo=False,
                use_poll=True, pass_fds=(err_write,), preexec_fn=stderr_to_pipe, dimensions=(24, 200)))
        except (OSError, pexpect.ExceptionPexpect) as exc:
            os.close(err_read)
            raise Failure(f"{self.spec.label} could not be started: {exc}") from None
        finally:
            os.close(err_write)
        reaper.own(self._child.pid)
        self._child.delaybeforesend = None
        self._child.delayafterclose = 0
        self._child.delayafterterminate = 0
        self._child.ptyproc.delayafterclose = 0
        self._child.ptyproc.delayafterterminate = 0
        self._stderr_stream = os.fdopen(err_read, "rb", buffering=0)

    def _start_pipes(self, argv, env, sandbox):
        try:
            self._child = sandboxes.spawn(sandbox, lambda: subprocess.Popen(
                argv, cwd=self.workdir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True, close_fds=True))
        except OSError as exc:
            raise Failure(f"{self.spec.label} could not be started: {exc.strerror}: {self.argv[0]}") from None
        reaper.own(self._child.pid)
        self._stderr_stream = self._child.stderr

    @property
    def pid(self) -> int:
        return self._child.pid

    @property
    def alive(self) -> bool:
        if self.exit is not None or self._child is None:
            return False
        return self._poll() is None

    def _poll(self) -> int | None:
        """The exit status once the process has ended (a signal as -N)."""
        with self._exit_lock:
            if self._returncode is not None:
                return self._returncode
            if self.terminal:
                p = self._child.ptyproc
                try:
                    if p.isalive():
                        return None
                except Exception:   # already reaped: ptyprocess keeps what it saw
                    pass
                code = p.exitstatus if p.exitstatus is not None else -(p.signalstatus or 9)
            else:
                code = self._child.poll()
            self._returncode = code
            return code

    def stop(self) -> ExitInfo:
        """Kill it and everything it started; idempotent."""
        if self._child is None:
            return ExitInfo(None)
        if self.exit is not None:
            return self.exit
        if self._sandbox is not None:
            self._sandbox.kill(self)
        else:
            reaper.kill_everything(self.pid, sid=self.pid)
        end = time.monotonic() + 5
        code = self._poll()
        while code is None and time.monotonic() < end:
            time.sleep(POLL)
            code = self._poll()
        reaper.disown(self.pid)
        self._stop.set()
        if self._reader:
            self._reader.join(1)
        if self.terminal:
            try:
                self._child.ptyproc.fileobj.close()
            except OSError:
                pass
        else:
            for stream in (self._child.stdin, self._child.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        if self._stderr:
            self._stderr.join(0.5)
        if self._sandbox is not None:
            self._sandbox.finished(self)
            self._sandbox.account_output("stdout", self._out_total, len(self._out))
            if self._stderr:
                self._sandbox.account_output("stderr", self._stderr.total, len(self._stderr.text()))
        self.exit = ExitInfo(code)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return self.exit

    # -- input --------------------------------------------------------------

    def type(self, data: bytes) -> None:
        """Bytes on stdin, as typed (a line should end with b"\\n")."""
        try:
            if self.terminal:
                self._child.send(data)
            else:
                self._child.stdin.write(data)
                self._child.stdin.flush()
        except (OSError, ValueError):
            pass    # the client is gone; what it did is judged from its output and exit

    def type_line(self, line: bytes) -> None:
        self.type(line + b"\n")

    def end_input(self) -> None:
        """End of input: Ctrl-D at the start of a line on a terminal, or the
        pipe closed."""
        try:
            if self.terminal:
                self._child.sendeof()
            else:
                self._child.stdin.close()
        except (OSError, ValueError):
            pass

    # -- output -------------------------------------------------------------

    def _read(self, timeout: float) -> bytes | None:
        """One chunk of stdout, b"" at its end, None when nothing came in time."""
        if self.terminal:
            import pexpect
            try:
                return self._child.read_nonblocking(65536, timeout)
            except pexpect.TIMEOUT:
                return None
            except (pexpect.EOF, OSError, ValueError):
                return b""
        fd = self._child.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP)
        if not poller.poll(timeout * 1000):
            return None
        try:
            return os.read(fd, 65536)
        except OSError:
            return b""

    def _drain(self):
        while not self._stop.is_set():
            chunk = self._read(0.05)
            if chunk is None:
                continue
            with self._cond:
                if not chunk:
                    self._out_eof = True
                    self._cond.notify_all()
                    return
                self._out_total += len(chunk)
                keep = OUTPUT_CAP - len(self._out)
                if keep > 0:
                    self._out += chunk[:keep]
                self._cond.notify_all()

    @property
    def output(self) -> bytes:
        """Everything printed on stdout so far (the first OUTPUT_CAP bytes)."""
        with self._cond:
            return bytes(self._out)

    @property
    def output_ended(self) -> bool:
        """stdout was closed: the client exited (or closed it)."""
        with self._cond:
            return self._out_eof

    def wait_output(self, predicate, timeout: float) -> bool:
        """Wait until ``predicate(output)`` holds (True), or the deadline
        passes or stdout ends without it holding (False)."""
        end = time.monotonic() + timeout
        with self._cond:
            while not predicate(bytes(self._out)):
                left = end - time.monotonic()
                if left <= 0 or self._out_eof:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def wait_for(self, expected: bytes, timeout: float) -> bool:
        """Wait until the output holds at least ``expected`` (it starts with it)."""
        return self.wait_output(lambda out: out.startswith(expected), timeout)

    def wait_until(self, predicate, timeout: float) -> bool:
        """Wait until ``predicate()`` (about the world: a peer, the wire)
        holds, the deadline passes, or the client ends: a dead client
        changes nothing more, so its checks need not wait out the deadline."""
        end = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if self._poll() is not None:
                time.sleep(0.05)    # what it did just before it ended may still be arriving
                return bool(predicate())
            if time.monotonic() >= end:
                return False
            time.sleep(POLL)

    # -- exit ----------------------------------------------------------------

    def wait_exit(self, timeout: float) -> int | None:
        """The exit status if the client ends within ``timeout`` seconds, else
        None (it is left running; the check's end kills it). A stub that died
        of NotImplementedError raises the "not implemented yet" failure."""
        end = time.monotonic() + timeout
        while True:
            code = self._poll()
            if code is not None:
                # What it printed last is still in the pipes: collect it.
                with self._cond:
                    self._cond.wait_for(lambda: self._out_eof, 0.5)
                if self._stderr:
                    self._stderr.join(0.5)
                self.require_implemented()
                return code
            if time.monotonic() >= end:
                return None
            time.sleep(POLL)

    @property
    def state(self) -> str:
        """"is still running", "exited with status 1", "was killed by SIGKILL"."""
        return ExitInfo(self._poll() if self._child is not None else None).describe()

    # -- messages -----------------------------------------------------------

    @property
    def stderr_text(self) -> str:
        return self._stderr.text() if self._stderr else ""

    def stderr_lines(self) -> list[str]:
        """The non-empty lines the client wrote on stderr (its last 16 KiB)."""
        return [line.rstrip() for line in self.stderr_text.splitlines() if line.strip()]

    def stderr_excerpt(self, n: int = 5) -> list[str]:
        return [f"client stderr> {line}" for line in self.stderr_lines()[-n:]]

    @property
    def not_implemented(self) -> bool:
        return "NotImplementedError" in self.stderr_text

    def require_implemented(self) -> None:
        """Raise "not implemented yet" if this is the untouched stub."""
        if self._child is not None and self._poll() is not None and self.not_implemented:
            raise Failure(f"not implemented yet: {self.spec.label} still raises NotImplementedError "
                          "(fill in the TODOs)", hint="", details=self.stderr_excerpt(1))

    def death_notice(self, when: str) -> str:
        """One line saying how the client ended, for a check's message."""
        self.require_implemented()
        if self.limit_hit and self._sandbox is not None:
            return f"{self.spec.label} was stopped {when}: {self._sandbox.limits.describe(self.limit_hit)}"
        code = self._poll()
        last = self.stderr_lines()[-1:]
        tail = f": {last[0]}" if last else ""
        return f"{self.spec.label} {ExitInfo(code).describe()} {when}{tail}"

    @property
    def command_line(self) -> str:
        return shlex.join(self.argv)

    def __repr__(self):
        return f"ClientRun({self.command_line!r}, terminal={self.terminal})"
