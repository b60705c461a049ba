"""Deadlines that do not lie on a noisy machine.

Every deadline in a check is ``base × stretch``. The stretch comes from one
cheap measurement per run: how long this machine takes to start an
interpreter and bounce a few hundred messages over a socket pair, against the
same work on a quiet machine of the reference kind. It is never below 1 and
never above 3, so a loaded machine cannot fail a correct program and a slow
machine cannot pass an iterative server as concurrent (it needs far more than
3 × the allowance)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

# Median of CALIBRATION on an idle 2-core machine of the reference kind.
QUIET_SECONDS = 0.03
MAX_STRETCH = 3.0

CALIBRATION = """
import socket
a, b = socket.socketpair()
for _ in range(400):
    a.sendall(b"x" * 64)
    b.recv(64)
"""


def measure(rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-S", "-E", "-c", CALIBRATION], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def stretch_factor() -> float:
    """GRADER_STRETCH fixes the factor (for reproducing a run); otherwise it is
    measured."""
    fixed = os.environ.get("GRADER_STRETCH")
    if fixed:
        return min(MAX_STRETCH, max(1.0, float(fixed)))
    return round(min(MAX_STRETCH, max(1.0, measure() / QUIET_SECONDS)), 2)


class Clock:
    """Hands out stretched deadlines and says how they were made."""

    def __init__(self, stretch: float):
        self.stretch = stretch

    def __call__(self, base: float) -> float:
        return base * self.stretch

    def explain(self, seen: float, base: float) -> str:
        return f"{seen:.2f} s > {base:g} s × {self.stretch:g}"
