"""What has been graded already: one result file per student, and the
fingerprints that say whether it still holds.

A result is reused only when both fingerprints match: the submission's files
(every file under the student's folder, by path and content) and the
grader's (its version, its checking code, the kata's table in course.toml,
the instructor's checks, the options that change a verdict). Anything else,
or ``--force``, grades again. Files are replaced atomically, so a run
stopped at any moment leaves only whole results behind, and the next run
continues from them. A result the grader itself spoiled (an internal error,
a crash of the grader) is never reused."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

from grader import __version__
from grader.course import PACKAGE_DIR, Kata
from grader.report.partial import write_atomically

IGNORED = {"__pycache__", ".git", ".DS_Store", "__MACOSX"}
JUDGING = ("engine", "runner", "probes", "report")
INTERNAL_ERROR = "the grader hit an internal error"   # engine/plugin.py's words
GRADER_DIED = "the grader stopped on this submission"  # batch/runner.py's words


def _hash_files(h, root: Path, paths) -> None:
    for path in sorted(set(paths)):
        if not path.is_file():
            continue
        h.update(str(path.relative_to(root)).encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")


def _tree(root: Path, suffixes: tuple[str, ...] | None = None):
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part in IGNORED for part in rel.parts):
            continue
        if suffixes is None or path.suffix in suffixes:
            yield path


def files_fingerprint(folder: Path) -> str:
    h = hashlib.sha256()
    _hash_files(h, folder, _tree(folder))
    return h.hexdigest()


def judging_code(kata: Kata) -> list[Path]:
    """The grader's files that can change this kata's verdicts: its top-level
    modules, the engine, runner, probes and reports, the kata's own check
    modules and the checks' private helpers (``_*.py``). Other katas' checks
    and the batch and platform code are left out."""
    pkg = PACKAGE_DIR
    files = list(pkg.glob("*.py"))
    for sub in JUDGING:
        files += list(_tree(pkg / sub, (".py",)))
    checks = pkg / "checks"
    files += [checks / f"{m}.py" for m in kata.modules] + list(checks.glob("_*.py")) + [checks / "pytest.ini"]
    return files


def grader_fingerprint(kata: Kata, check_dirs: list[Path], options: dict) -> str:
    h = hashlib.sha256(__version__.encode())
    _hash_files(h, PACKAGE_DIR, judging_code(kata))
    with open(kata.root / "katas" / "course.toml", "rb") as f:
        table = tomllib.load(f).get(kata.id, {})
    h.update(json.dumps(table, sort_keys=True).encode())
    for folder in check_dirs:
        _hash_files(h, folder, _tree(folder, (".py",)))
    h.update(json.dumps(options, sort_keys=True).encode())
    return f"{__version__}+{h.hexdigest()[:16]}"


def grader_failed(data: dict) -> bool:
    """The grader, not the student, failed this grading (an internal error,
    the grader process itself dying): never reused, graded again next run."""
    if (data.get("error") or "").startswith((GRADER_DIED, INTERNAL_ERROR)):
        return True
    return any(c.get("message", "").startswith(INTERNAL_ERROR) for c in data.get("checks", []))


class Store:
    """``OUT/results/<key>.json``: the JSON of ``grader check`` plus a
    ``grading`` object saying whose it is and what it was graded from."""

    def __init__(self, out: Path):
        self.out = out
        self.results = out / "results"
        self.results.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.results / f"{key}.json"

    def load(self, key: str) -> dict | None:
        try:
            return json.loads(self.path(key).read_text())
        except (OSError, ValueError):
            return None

    def reusable(self, key: str, files: str, grader: str) -> dict | None:
        data = self.load(key)
        if not data:
            return None
        grading = data.get("grading", {})
        if grading.get("files") == files and grading.get("grader") == grader and not grader_failed(data):
            return data
        return None

    def save(self, key: str, data: dict) -> None:
        write_atomically(self.path(key), json.dumps(data, indent=2))

    def stale_keys(self, keep: set[str]) -> list[str]:
        """Result files of students no longer among the submissions."""
        return sorted(p.stem for p in self.results.glob("*.json") if p.stem not in keep)

