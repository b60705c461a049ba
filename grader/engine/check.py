"""Declaring a check.

A check is a plain pytest test function decorated with ``@check``: the name
a learner reads (a sentence stating the property), the hint shown when it is
lost, and an optional time limit (before stretch). Its points live in the
course's metadata; an instructor's own check may carry ``points=`` instead.

    @check("echoes an 8 MB payload exactly", hint="recv returns whatever has arrived ...")
    def test_echoes_large_payload(server, clock):
        ...
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.errors import Failure, NotRun

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class CheckSpec:
    name: str
    hint: str
    timeout: float = DEFAULT_TIMEOUT
    points: int | None = None
    hidden: bool = False
    needs_wire: bool = False


def check(name: str, *, hint: str, timeout: float = DEFAULT_TIMEOUT, points: int | None = None,
          hidden: bool = False, needs_wire: bool = False):
    def decorate(fn):
        fn.__check__ = CheckSpec(name, hint, timeout, points, hidden, needs_wire)
        return fn
    return decorate


def spec_of(fn) -> CheckSpec | None:
    return getattr(fn, "__check__", None)


def fail(message: str, *, hint: str | None = None, details=(), evidence=()):
    raise Failure(message, hint=hint, details=details, evidence=evidence)


def not_run(reason: str):
    raise NotRun(reason)


def check_id(function_name: str) -> str:
    return function_name[5:] if function_name.startswith("test_") else function_name
