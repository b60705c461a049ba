"""Running learner servers for checks.

Every check gets a server of its own, started for it and stopped after it:
what one check does to a server (a client that reset, a server that served
its one client and left) can never change another check's verdict, and a
program starts in well under a second. If the program cannot be started at
all, that is said once, in full, by the first check that needed it; the
others say "not attempted" in one line instead of a cascade of confusing
failures.
"""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass

from grader.errors import Failure, ProgramUnavailable
from grader.runner import limits
from grader.runner.program import Program

READY_BASE = 10.0     # KATAS.md: listening within 10 s of start
STOP_GRACE = 1.0


def free_port(host: str, transport: str = "tcp") -> int:
    """A port free on ``host`` for both TCP and UDP, below the ephemeral range
    (32768–60999) so no client's ephemeral port can take it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(200):
        port = random.randint(20000, 32000)
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                with socket.socket(family, kind) as s:
                    s.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port found")


@dataclass
class Server:
    """A learner's server running on host:port."""

    program: Program
    host: str
    port: int
    transport: str

    @property
    def pid(self) -> int:
        return self.program.pid

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def alive(self) -> bool:
        return self.program.alive

    def died_during(self, what: str) -> Failure:
        """A Failure describing the program's death while ``what`` happened."""
        return Failure(self.program.death_notice(what), details=self.program.stderr_excerpt())

    def require_alive(self, what: str) -> None:
        if not self.alive:
            raise self.died_during(what)

    @property
    def hostport(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class Launcher:
    """Starts servers for one grading run and stops every one of them."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.running: list[Server] = []
        self._broken: ProgramUnavailable | None = None
        self._started_once = False

    def values(self, host: str, port: int) -> dict:
        return {**self.ctx.flag_values, "host": host, "port": port}

    def start(self, host: str = "127.0.0.1", port: int | None = None, **extra) -> Server:
        self._refuse_if_broken()
        port = port or free_port(host)
        program = Program(self.ctx.launch, {**self.values(host, port), **extra}, sandbox=self.ctx.sandbox,
                          nofile=limits.wanted_nofile(self.ctx.kata.params))
        return self._watch(program, host, port)

    def restart(self, server: Server) -> Server:
        """The same program, same arguments, same port: a new process."""
        return self._watch(server.program.restarted_unstarted(), server.host, server.port)

    def _watch(self, program: Program, host: str, port: int) -> Server:
        server = Server(program, host, port, self.ctx.kata.transport)
        self.running.append(server)
        program.start()
        try:
            program.wait_ready(self.ctx.kata.transport, host, port, self.ctx.clock(READY_BASE))
        except ProgramUnavailable:
            self.stop(server)
            raise
        return server

    def _refuse_if_broken(self):
        # Said once in full by the first check; the rest say it in one line.
        if self._broken is not None:
            raise ProgramUnavailable(f"not attempted: {self._broken.message}", hint="")

    def fresh(self) -> Server:
        """A new server on 127.0.0.1 for one check."""
        try:
            server = self.start()
            self._started_once = True
            return server
        except ProgramUnavailable as exc:
            if not self._started_once and self._broken is None:
                self._broken = exc
            raise

    def stop(self, server: Server):
        exit_info = server.program.stop(self.ctx.clock(STOP_GRACE))
        if server in self.running:
            self.running.remove(server)
        return exit_info

    def stop_all(self):
        for server in list(self.running):
            self.stop(server)
