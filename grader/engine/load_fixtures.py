"""Fixtures for checks that need a server under load:

- ``study``: one server driven through connect, idle, probe, verify and leave
  phases with ``params["clients"]`` clients, once per grading run (see
  engine/load_study.py); checks judge its record and never touch its server.
"""

from __future__ import annotations

import pytest

from grader.engine import load_study


@pytest.fixture(scope="session")
def _study(_launcher, clock, params):
    return load_study.run(_launcher, clock, params)


@pytest.fixture
def study(_study):
    _study.require()
    return _study
