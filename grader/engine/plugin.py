"""The scorecard plugin: turns pytest's outcomes into CheckResults.

Rules: a check passes only if its function returned normally. Failure and
ProgramUnavailable carry the learner's message; NotRun leaves the check out of
max_score with its reason; a pytest-timeout becomes "took longer than N s";
anything else is the grader's own bug, reported as such (with the traceback
kept in the evidence folder), never passed off as the learner's."""

from __future__ import annotations

import time
import traceback

import pytest

from grader.engine.check import check_id, spec_of
from grader.engine.context import CONTEXT
from grader.engine.results import FAILED, NOT_RUN, PASSED, CheckResult
from grader.errors import Failure, NotRun


class _NoTerminal:
    def __init__(self):
        import io

        from _pytest._io import TerminalWriter
        self._tw = TerminalWriter(io.StringIO())


class Scorecard:
    def __init__(self, ctx):
        self.ctx = ctx
        self.results: dict[str, CheckResult] = {}
        self.missing: list[str] = []
        self.clashes: list[str] = []  # instructor checks named like a course check
        self._started: dict[str, float] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config):
        config.stash[CONTEXT] = self.ctx
        if config.pluginmanager.get_plugin("terminalreporter") is None:
            # pytest-timeout dumps the stacks of a check that timed out to the
            # terminal, and fails with AssertionError when there is none (the
            # grader runs pytest with -p no:terminal): give it one to nowhere.
            config.pluginmanager.register(_NoTerminal(), "terminalreporter")

    def pytest_collection_modifyitems(self, session, config, items):
        wanted = self.ctx.kata.checks
        by_id = {}
        for item in items:
            fn = getattr(item, "function", None)
            spec = spec_of(fn) if fn else None
            if spec is None:
                continue
            cid = check_id(item.name)
            extra = str(item.path).startswith(tuple(str(d) for d in self.ctx.extra_check_dirs))
            if extra and (cid in wanted or cid in by_id):
                # Never let an instructor's file silently replace a course check.
                self.clashes.append(f"{item.name} in {item.path.name}")
                continue
            if cid in wanted or extra:
                by_id[cid] = item
        self.missing = [cid for cid in wanted if cid not in by_id]
        order = list(wanted) + [cid for cid in by_id if cid not in wanted]
        items[:] = [by_id[cid] for cid in order if cid in by_id]
        for item in items:
            spec = spec_of(item.function)
            item.add_marker(pytest.mark.timeout(self.ctx.clock(spec.timeout)))

    def pytest_runtest_setup(self, item):
        self._started[item.nodeid] = time.monotonic()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        cid = check_id(item.name)
        if cid in self.results:
            return
        if call.when == "call" or (call.when == "setup" and report.outcome != "passed"):
            result = self._result(item, cid, call)
            self.results[cid] = result
            if self.ctx.on_result:
                self.ctx.on_result(result)

    def _result(self, item, cid, call) -> CheckResult:
        spec = spec_of(item.function)
        points = self.ctx.kata.checks.get(cid, spec.points or 1)
        result = CheckResult(id=cid, name=spec.name, status=PASSED, max_score=points,
                             hidden=spec.hidden)
        result.duration = time.monotonic() - self._started.get(item.nodeid, time.monotonic())
        exc = call.excinfo.value if call.excinfo else None
        if exc is None:
            return result
        if isinstance(exc, NotRun):
            result.status = NOT_RUN
            result.message = f"not run here: {exc}"
            return result
        result.status = FAILED
        result.hint = spec.hint
        if isinstance(exc, Failure):
            result.message = exc.message
            result.hint = spec.hint if exc.hint is None else exc.hint
            result.details = exc.details
            result.evidence = [str(p) for p in exc.evidence]
        elif isinstance(exc, pytest.fail.Exception) and str(exc).startswith("Timeout"):
            limit = self.ctx.clock(spec.timeout)
            result.message = (f"the check did not finish within {limit:.0f} s "
                              f"({spec.timeout:g} s × {self.ctx.clock.stretch:g}): the program stopped answering")
        else:
            result.message = f"the grader hit an internal error ({type(exc).__name__}: {exc}); this is not your fault"
            result.hint = "please report it with the evidence file below"
            path = self.ctx.evidence_dir / cid / "grader-error.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(traceback.format_exception(exc)))
            result.evidence = [str(path)]
        return result

    def ordered_results(self) -> list[CheckResult]:
        return [self.results[cid] for cid in self.results]
