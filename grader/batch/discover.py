"""Which folders are submissions, and whose.

Rules:
- one path that is a folder holding the kata's program file: one submission;
- one path that is a folder without it: each visible subfolder (and each
  ``.zip`` in it) is one student's submission, named after it;
- several paths: each is one submission (a folder or a zip);
- a zip is unpacked (refusing absolute paths, ``..`` and archives that
  unpack to more than ``MAX_UNPACKED`` bytes) under the output folder, then
  read by the rules above; a zip holding one folder is that folder.
- inside a student's folder the program may sit deeper (``kata5/server.py``,
  ``katas/kata5/server.py``, a wrapping folder): the shallowest folder
  holding it wins, one whose path names the kata before others; two equally
  good candidates are the student's error, never a guess.
A student whose program cannot be found still appears, with the reason."""

from __future__ import annotations

import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grader.errors import UsageError

MAX_UNPACKED = 2 * 1024**3
SKIP = {"__MACOSX", "__pycache__", ".git", ".venv", "node_modules"}
MAX_DEPTH = 4


@dataclass
class Submission:
    student: str                # as the instructor knows them (the folder's name)
    key: str                    # safe for a file name, unique in this run
    root: Path                  # the student's folder as handed in
    folder: Path | None = None  # where the program is; None: not found
    problem: str = ""           # why it was not found


def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and path.name not in SKIP


def unpack(archive: Path, into: Path) -> Path:
    """Unpack ``archive`` into ``into`` (replacing what was there) and return
    the folder that holds its content."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UsageError(f"cannot read {archive}: {exc}") from None
    with zf:
        total = 0
        for info in zf.infolist():
            name = Path(info.filename)
            if name.is_absolute() or ".." in name.parts:
                raise UsageError(f"{archive}: refusing a member outside the archive: {info.filename}")
            total += info.file_size
        if total > MAX_UNPACKED:
            raise UsageError(f"{archive}: unpacks to {total >> 20} MiB, more than {MAX_UNPACKED >> 20} MiB")
        if into.exists():
            shutil.rmtree(into)
        into.mkdir(parents=True)
        zf.extractall(into)
    entries = [p for p in into.iterdir() if _visible(p)]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return into


def _safe_key(name: str, taken: set[str]) -> str:
    key = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "student"
    candidate, n = key, 2
    while candidate.lower() in taken:
        candidate, n = f"{key}-{n}", n + 1
    taken.add(candidate.lower())
    return candidate


def locate(root: Path, program: str, kata_id: str, *, named_first: bool = False) -> tuple[Path | None, str]:
    """The folder under ``root`` that holds ``program``, or why there is none.

    ``named_first``: a folder whose path names the kata wins over the root
    itself (a submission holding several katas, each a ``server.py``)."""
    found: list[tuple[int, Path]] = []
    level = [root]
    for depth in range(MAX_DEPTH + 1):
        nxt = []
        for folder in level:
            if (folder / program).is_file():
                found.append((depth, folder))
            if depth == MAX_DEPTH:
                continue
            try:
                nxt += sorted(p for p in folder.iterdir() if _visible(p) and p.is_dir() and not p.is_symlink())
            except OSError:
                continue
        level = nxt
    if not found:
        return None, f"missing file: no {program} in the submission"
    named = [(d, f) for d, f in found if kata_id in f.relative_to(root).parts]
    if not named_first and found[0][1] == root:
        return root, ""
    pool = named or ([] if named_first and len(found) > 1 else found)
    if not pool:
        listed = ", ".join(str(f.relative_to(root) / program) for _, f in found[:4])
        return None, f"several {program} files and none in a folder named {kata_id}: {listed}"
    shallowest = [f for d, f in pool if d == pool[0][0]]
    if len(shallowest) > 1:
        listed = ", ".join(str(f.relative_to(root) / program) for f in shallowest[:4])
        return None, f"several {program} files, which one is graded is unclear: {listed}"
    return shallowest[0], ""


def submissions(paths: list[Path], program: str, kata_id: str, unpack_dir: Path,
                exclude: Path | None = None) -> list[Submission]:
    """``exclude``: the output folder, when it sits among the submissions."""
    for path in paths:
        if not path.exists():
            raise UsageError(f"no such folder or zip: {path}")
    roots: list[tuple[str, Path]] = []
    if len(paths) == 1:
        base = paths[0]
        if base.is_file():
            base = unpack(base, unpack_dir / base.stem)
        if (base / program).is_file():
            roots.append((base.name, base))
        else:
            for entry in sorted(base.iterdir()):
                if not _visible(entry) or (exclude is not None and entry.resolve() == exclude.resolve()):
                    continue
                if entry.is_dir():
                    roots.append((entry.name, entry))
                elif entry.suffix == ".zip":
                    roots.append((entry.stem, unpack(entry, unpack_dir / entry.stem)))
    else:
        for path in paths:
            if path.is_dir():
                roots.append((path.name, path))
            elif path.suffix == ".zip":
                roots.append((path.stem, unpack(path, unpack_dir / path.stem)))
            else:
                raise UsageError(f"not a folder or a zip: {path}")
    if not roots:
        raise UsageError(f"no submissions found in {paths[0]} (expected one folder per student)")
    taken: set[str] = set()
    found = []
    for student, root in roots:
        folder, problem = locate(root, program, kata_id)
        found.append(Submission(student=student, key=_safe_key(student, taken), root=root.resolve(),
                                folder=folder.resolve() if folder else None, problem=problem))
    return found
