"""The fixtures a check can ask for, by name:

- ``kata``, ``params``: the kata being graded and its parameters from course.toml
- ``clock``: stretched deadlines (``clock(1.0)``) and how to explain them
- ``rng``: a random.Random seeded per check from the run's seed (reproducible payloads)
- ``launcher``: start extra servers (another address, a restart on the same port)
- ``server``: a running server on 127.0.0.1, started for this check
- ``tap``: a wire tap on the shared server's port (the check is not run without raw sockets)
- ``evidence``: a folder for this check's pcap and /proc snapshots
"""

from __future__ import annotations

import random
import zlib

import pytest

from grader.engine.context import CONTEXT
from grader.engine.servers import Launcher
from grader.errors import NotRun
from grader.probes import wire


@pytest.fixture(scope="session")
def ctx(request):
    return request.config.stash[CONTEXT]


@pytest.fixture(scope="session")
def kata(ctx):
    return ctx.kata


@pytest.fixture(scope="session")
def params(ctx):
    return ctx.kata.params


@pytest.fixture(scope="session")
def clock(ctx):
    return ctx.clock


@pytest.fixture
def rng(ctx, request):
    return random.Random(ctx.seed ^ zlib.crc32(request.node.name.encode()))


@pytest.fixture(scope="session")
def _launcher(ctx):
    launcher = Launcher(ctx)
    yield launcher
    launcher.stop_all()


@pytest.fixture
def launcher(_launcher):
    """Servers a check starts itself are stopped when the check ends."""
    before = set(map(id, _launcher.running))
    yield _launcher
    for server in list(_launcher.running):
        if id(server) not in before:
            _launcher.stop(server)


@pytest.fixture
def server(launcher):
    return launcher.fresh()


@pytest.fixture
def wire_ok(ctx):
    if ctx.wire_unavailable:
        raise NotRun(ctx.wire_unavailable)


@pytest.fixture
def tap(wire_ok, server):
    with wire.Tap(server.port) as t:
        yield t


@pytest.fixture
def evidence(ctx, request):
    path = ctx.evidence_dir / request.node.name
    return path
