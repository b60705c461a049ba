"""Helpers for the project's own tests: run the grader as a user would (a
subprocess, its own network namespace), read its JSON, and prove that no
process it started outlived it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "tests" / "submissions"


@dataclass
class GraderRun:
    returncode: int
    stdout: str
    stderr: str
    mark: str

    @property
    def json(self) -> dict:
        return json.loads(self.stdout)

    def statuses(self) -> dict[str, str]:
        return {c["id"]: c["status"] for c in self.json["checks"]}

    def failed(self) -> list[str]:
        return [c["id"] for c in self.json["checks"] if c["status"] == "failed"]


def survivors(mark: str) -> list[str]:
    """Processes still carrying a grading run's mark in their environment."""
    found = []
    needle = f"SOCKET_KATAS_RUN={mark}".encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    with open(f"/proc/{pid}/cmdline", "rb") as c:
                        cmdline = c.read().replace(b"\0", b" ").decode(errors="replace")
                    found.append(f"{pid}: {cmdline}")
        except OSError:
            continue
    return found


def run_grader(*args: str, timeout: float = 240, env: dict | None = None, cwd: Path = ROOT) -> GraderRun:
    mark = f"test-{uuid.uuid4().hex[:12]}"
    full_env = {**os.environ, "SOCKET_KATAS_RUN": mark, **(env or {})}
    done = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=cwd, stdin=subprocess.DEVNULL)
    left = survivors(mark)
    assert not left, f"processes outlived the grader: {left}"
    return GraderRun(done.returncode, done.stdout, done.stderr, mark)


@pytest.fixture
def grader():
    return run_grader
