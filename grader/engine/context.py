"""Everything one grading run knows before its first check: the kata, how to
start the learner's program, the clock, the seed, where evidence goes. The
engine hands it to pytest; fixtures read it from the config's stash."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from grader.course import Kata
from grader.engine.timing import Clock
from grader.runner.launch import LaunchSpec


@dataclass
class GradingContext:
    kata: Kata
    launch: LaunchSpec
    clock: Clock
    seed: int
    evidence_dir: Path
    wire_unavailable: str | None = None     # why raw sockets cannot be used here
    sandbox: object | None = None
    on_result: Callable | None = None
    extra_check_dirs: tuple[Path, ...] = ()
    notes: list[str] = field(default_factory=list)
    # Values for the kata's extra flags ({root}, {timeout}, ...), filled in by
    # the fixtures that prepare them (kata10's document root, say).
    flag_values: dict = field(default_factory=dict)
    # True when this run has a network namespace of its own: only then may a
    # check change per-namespace sysctls (kata9 sets net.ipv6.bindv6only).
    private_network: bool = False


CONTEXT = pytest.StashKey[GradingContext]()
