"""Fixtures for checks that need a server under load:

- ``study``: one server driven through connect, idle, probe, verify and leave
  phases with ``params["clients"]`` clients, once per grading run (see
  engine/load_study.py); checks judge its record and never touch its server.
- ``crowd_limits``: the grader's own descriptor limit raised for a crowd of
  ``params["clients"]`` (NotRun where the hard limit is too low).
"""

from __future__ import annotations

import pytest

from grader.engine import load_study
from grader.probes import load


@pytest.fixture(scope="session")
def _study(_launcher, clock, params):
    return load_study.run(_launcher, clock, params)


@pytest.fixture
def study(_study):
    _study.require()
    return _study


@pytest.fixture
def crowd_limits(params):
    with load.descriptors_for(int(params.get("clients", 10))):
        yield
