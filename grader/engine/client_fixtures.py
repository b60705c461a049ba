"""Fixtures for the client katas (kata2, kata4), by name:

- ``clients``: starts the learner's client against an address the check
  chooses, on a terminal (pexpect) or on pipes; the kata's other flags
  (``--timeout``, ``--retries``) come from course.toml's params unless the
  check passes its own. Every client started is killed when the check ends.
- ``peers``: the grader's own servers and taps for this check (echo,
  dribbler, talker after half-close, UDP servers that drop or stay silent,
  the TCP and UDP wire); all closed when the check ends.

A client kata has no learner server: checks never ask for ``server``.
"""

from __future__ import annotations

import pytest

from grader.probes import peers as peer_kinds
from grader.probes import udp_wire, wire
from grader.runner.client import ClientRun


def _flag_text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class ClientLauncher:
    """Starts learner clients for one check and kills every one of them."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.runs: list[ClientRun] = []

    def values(self, host: str, port: int, flags: dict) -> dict:
        defaults = {flag: self.ctx.kata.params[flag] for flag in self.ctx.kata.flags
                    if flag not in ("host", "port") and flag in self.ctx.kata.params}
        merged = {**defaults, **self.ctx.flag_values, **flags, "host": host, "port": port}
        return {k: _flag_text(v) for k, v in merged.items()}

    def start(self, host: str, port: int, *, terminal: bool = True, **flags) -> ClientRun:
        run = ClientRun(self.ctx.launch, self.values(host, port, flags), terminal=terminal)
        self.runs.append(run)
        return run.start()

    def stop_all(self):
        for run in self.runs:
            run.stop()


class Peers:
    """The grader's servers and taps for one check."""

    def __init__(self):
        self._open = []

    def _keep(self, thing):
        self._open.append(thing)
        return thing

    def tcp(self, host: str = "127.0.0.1", **behaviour) -> peer_kinds.TcpPeer:
        return self._keep(peer_kinds.TcpPeer(host, **behaviour))

    def udp(self, host: str = "127.0.0.1", **behaviour) -> peer_kinds.UdpPeer:
        return self._keep(peer_kinds.UdpPeer(host, **behaviour))

    def tcp_tap(self, port: int) -> wire.Tap:
        return self._keep(wire.Tap(port))

    def udp_tap(self, port: int) -> udp_wire.UdpTap:
        return self._keep(udp_wire.UdpTap(port))

    def spoofer(self) -> peer_kinds.Spoofer:
        return self._keep(peer_kinds.Spoofer())

    def close_all(self):
        for thing in reversed(self._open):
            try:
                thing.close()
            except OSError:
                pass


@pytest.fixture
def clients(ctx):
    launcher = ClientLauncher(ctx)
    yield launcher
    launcher.stop_all()


@pytest.fixture
def peers(clients):
    # Set up after ``clients``, so torn down before them: the grader's servers
    # hang up first and the clients are killed after. Whoever closes first
    # keeps the TIME_WAIT; were it the client, a client that binds a fixed
    # port (a bug judged once, by its own check) could not connect again in
    # the checks that follow.
    registry = Peers()
    yield registry
    registry.close_all()
