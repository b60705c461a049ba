"""The course's metadata: one file, ``katas/course.toml``, for the whole course.

Rule: what a kata is (its title, the file the learner edits, how it is
started, which checks grade it and what each is worth) lives in that file and
nowhere else; code and docs read it from there.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import UsageError

PACKAGE_DIR = Path(__file__).resolve().parent


def course_root() -> Path:
    """The folder holding ``katas/`` and ``solutions/``.

    GRADER_COURSE wins; otherwise the checkout the grader was installed from
    (an editable install), which is how the README sets it up."""
    env = os.environ.get("GRADER_COURSE")
    root = Path(env) if env else PACKAGE_DIR.parent
    if not (root / "katas" / "course.toml").is_file():
        raise UsageError(f"no course found at {root} (expected katas/course.toml); set GRADER_COURSE")
    return root


@dataclass(frozen=True)
class Kata:
    id: str
    title: str
    role: str                       # "server" or "client"
    transport: str                  # "tcp" or "udp"
    program: str                    # the file the learner edits
    modules: tuple[str, ...]        # check modules under grader/checks/
    checks: dict[str, int]          # check id -> points, in grading order
    params: dict = field(default_factory=dict)
    flags: tuple[str, ...] = ()     # extra placeholders the command takes, e.g. ("root",)
    root: Path = Path(".")

    @property
    def folder(self) -> Path:
        return self.root / "katas" / self.id

    @property
    def solution(self) -> Path:
        return self.root / "solutions" / self.id

    @property
    def max_points(self) -> int:
        return sum(self.checks.values())


def load_course(root: Path | None = None) -> dict[str, Kata]:
    root = root or course_root()
    with open(root / "katas" / "course.toml", "rb") as f:
        raw = tomllib.load(f)
    katas = {}
    for kata_id, spec in raw.items():
        if not isinstance(spec, dict):
            continue
        katas[kata_id] = Kata(
            id=kata_id,
            title=spec["title"],
            role=spec.get("role", "server"),
            transport=spec.get("transport", "tcp"),
            program=spec.get("program", "server.py"),
            modules=tuple(spec["modules"]),
            checks=dict(spec["checks"]),
            params=dict(spec.get("params", {})),
            flags=tuple(spec.get("flags", ())),
            root=root,
        )
    return katas


def find_kata(kata_id: str, root: Path | None = None) -> Kata:
    katas = load_course(root)
    if kata_id not in katas:
        known = ", ".join(sorted(katas, key=lambda k: int(k[4:]) if k[4:].isdigit() else 0))
        raise UsageError(f"unknown kata {kata_id!r} (known: {known})")
    return katas[kata_id]


def ordered(katas: dict[str, Kata]) -> list[Kata]:
    return sorted(katas.values(), key=lambda k: (len(k.id), k.id))
