"""Grading one kata: run its checks with pytest in-process, plugin attached,
and collect the scorecard."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from grader.course import PACKAGE_DIR
from grader.engine import client_fixtures, fixtures, http_fixtures
from grader.engine import load_fixtures
from grader.engine.context import GradingContext
from grader.engine.plugin import Scorecard
from grader.engine.results import KataResult
from grader.runner import reaper

CHECKS_DIR = PACKAGE_DIR / "checks"
# pytest plugins that provide fixtures to every check (see engine/fixtures.py).
FIXTURE_MODULES = [fixtures, client_fixtures, http_fixtures, load_fixtures]
INI = CHECKS_DIR / "pytest.ini"


def check_files(ctx: GradingContext) -> list[str]:
    files = [str(CHECKS_DIR / f"{module}.py") for module in ctx.kata.modules]
    for folder in ctx.extra_check_dirs:
        files += [str(p) for p in sorted(Path(folder).glob("*.py")) if not p.name.startswith("_")]
    return files


def grade(ctx: GradingContext) -> KataResult:
    card = Scorecard(ctx)
    args = ["-c", str(INI), "--rootdir", str(CHECKS_DIR), "-p", "no:cacheprovider",
            "-p", "no:stepwise", "-p", "no:terminal", "-s", "-W", "ignore", *check_files(ctx)]
    # pytest's own chatter (collection errors aside) is not for the learner.
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        code = pytest.main(args, plugins=[card, *FIXTURE_MODULES])
    result = KataResult(kata=ctx.kata.id, title=ctx.kata.title, checks=card.ordered_results(),
                        stretch=ctx.clock.stretch, seed=ctx.seed, notes=list(ctx.notes))
    # INTERRUPTED: a collection error (an instructor's module that does not
    # import) stops the session before any check; a stop signal is told by cli.
    if card.missing or code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR,
                                pytest.ExitCode.INTERRUPTED) \
            or (code == pytest.ExitCode.NO_TESTS_COLLECTED):
        result.error = ("the grader's checks for this kata could not be loaded"
                        + (f" (missing: {', '.join(card.missing)})" if card.missing else "")
                        + (f": {sink.getvalue().strip().splitlines()[-1]}" if sink.getvalue().strip() else ""))
    if card.clashes:
        result.error = ("an instructor check has the same name as another check: "
                        f"{', '.join(card.clashes)}; rename it")
    # Whatever a check left behind, nothing the learner started survives.
    for proc in reaper.orphans():
        reaper.kill_everything(proc.pid)
    return result
