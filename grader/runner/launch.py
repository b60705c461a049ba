"""How a learner's program is started: which folder, which command, which
environment. A LaunchSpec is pure data; ``Program`` does the starting."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import UsageError

# Variables that change how a Python program behaves (PYTHONUNBUFFERED hides a
# client that never flushes): the learner's program never inherits them.
_KEPT_ENV = ("LANG", "LC_ALL", "TZ")

# Every learner process carries this mark in its environment, so a test (or an
# operator) can prove afterwards that none of them survived the run.
RUN_MARK = "SOCKET_KATAS_RUN"
WORKDIR_PREFIX = "kata-run-"


def learner_env(workdir: Path) -> dict[str, str]:
    env = {k: os.environ[k] for k in _KEPT_ENV if k in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    env["HOME"] = str(workdir)
    env[RUN_MARK] = os.environ.get(RUN_MARK) or f"grader-{os.getpid()}"
    return env


@dataclass(frozen=True)
class LaunchSpec:
    """``source`` is the folder copied afresh for every start; ``argv`` a
    template whose ``{host}``, ``{port}``, ``{root}``, ``{timeout}`` and
    ``{retries}`` are filled in per start."""

    source: Path | None
    argv: tuple[str, ...]
    label: str = "your program"
    python: str = sys.executable
    extra_env: dict = field(default_factory=dict)

    @classmethod
    def for_python(cls, source: Path, program: str, flags: tuple[str, ...], label: str) -> "LaunchSpec":
        if not (source / program).is_file():
            raise UsageError(f"missing file: {source / program}")
        argv = ["{python}", program]
        for flag in flags:
            argv += [f"--{flag}", "{" + flag + "}"]
        return cls(source=source, argv=tuple(argv), label=label)

    @classmethod
    def for_command(cls, command: str, flags: tuple[str, ...]) -> "LaunchSpec":
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise UsageError(f"--cmd: {exc}") from None
        if not argv:
            raise UsageError("--cmd is empty")
        for flag in flags:
            if "{" + flag + "}" not in command:
                argv += [f"--{flag}", "{" + flag + "}"]
        return cls(source=None, argv=tuple(argv), label=argv[0])

    def render(self, values: dict) -> list[str]:
        values = {"python": self.python, **{k: str(v) for k, v in values.items()}}
        out = []
        for part in self.argv:
            for key, value in values.items():
                part = part.replace("{" + key + "}", value)
            out.append(part)
        return out

    def fresh_workdir(self) -> Path:
        """A new copy of the learner's folder: what one run writes, the next
        never sees."""
        from grader.runner import sandbox
        run = sandbox.current()
        with run.as_root() if run is not None else contextlib.nullcontext():
            return self._copy_to_workdir()

    def _copy_to_workdir(self) -> Path:
        # Named after the grader, so a later run can remove what a grader
        # that was killed (SIGKILL) left (sandbox.sweep_workdirs).
        workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
        if self.source is not None:
            # Links are copied as links: following them, the grader (maybe
            # root) would copy whatever they point at into the program's reach.
            shutil.copytree(self.source, workdir, dirs_exist_ok=True, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", ".git"))
        os.chmod(workdir, 0o755)
        return workdir

    @property
    def python_sources(self) -> list[Path]:
        if self.source is None:
            return []
        return sorted(self.source.rglob("*.py"))
