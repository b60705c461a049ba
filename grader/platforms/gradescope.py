"""Gradescope: the autograder bundle, and what runs inside it.

``grader gradescope KATA... -o autograder.zip`` writes the zip an instructor
uploads: ``setup.sh`` and ``run_autograder`` at its root (Gradescope's
autograder specification), the grader's source with the course file and the
chosen katas (never the reference solutions), the instructor's checks, and
``socket-katas.json`` saying what to grade.

``run_autograder`` runs ``python -m grader.platforms.gradescope run``, which
grades the submission and writes ``results/results.json``. Rules:
- the results file is valid at every moment: written before the first check
  (every check "not graded yet"), rewritten after every check that finishes,
  replaced atomically; a run that Gradescope kills still leaves a valid file;
- each kata is one ``grader check`` process with a share of the time budget
  (the rest of it divided by the katas left); at its limit it is stopped and
  the checks it never reached are failed with that reason;
- where the program is: a folder named after the kata first when the bundle
  holds several katas (``kata5/server.py``, ``katas/kata5/server.py``), else
  the submission's root or the one folder holding the program file.
Paths come from AUTOGRADER_ROOT (default /autograder), AUTOGRADER_SOURCE,
AUTOGRADER_SUBMISSION and AUTOGRADER_RESULTS, so tests run it anywhere."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from grader import __version__
from grader.course import PACKAGE_DIR, course_root, find_kata
from grader.errors import UsageError

CONFIG = "socket-katas.json"
SOURCE_DIR = "socket-katas"
TEMPLATES = PACKAGE_DIR / "templates" / "gradescope"
NOT_YET = "not graded yet: the autograder stopped before this check ran"
RESERVE = 10.0  # seconds kept for writing the last results


# -- the bundle ---------------------------------------------------------------

def _add_tree(zf: zipfile.ZipFile, folder: Path, arcdir: str) -> None:
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part in ("__pycache__", ".git", ".pytest_cache") or part.endswith(".egg-info")
               for part in rel.parts) or not path.is_file():
            continue
        zf.write(path, f"{arcdir}/{rel.as_posix()}")


def _add_script(zf: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.external_attr = 0o100755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, text)


def build_bundle(kata_ids: list[str], output: Path, check_dirs: list[Path], budget: float) -> dict:
    root = course_root()
    katas = [find_kata(k, root) for k in kata_ids]
    config = {"katas": [k.id for k in katas], "budget": budget, "grader_version": __version__,
              "checks": [f"instructor_checks/{i}" for i in range(len(check_dirs))]}
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as zf:
        _add_script(zf, "setup.sh", (TEMPLATES / "setup.sh").read_text())
        _add_script(zf, "run_autograder", (TEMPLATES / "run_autograder").read_text())
        info = zipfile.ZipInfo(CONFIG, date_time=time.localtime()[:6])
        info.external_attr = 0o100644 << 16
        zf.writestr(info, json.dumps(config, indent=2) + "\n")
        for name in ("pyproject.toml", "README.md"):
            zf.write(root / name, f"{SOURCE_DIR}/{name}")
        _add_tree(zf, PACKAGE_DIR, f"{SOURCE_DIR}/grader")
        zf.write(root / "katas" / "course.toml", f"{SOURCE_DIR}/katas/course.toml")
        for kata in katas:
            _add_tree(zf, kata.folder, f"{SOURCE_DIR}/katas/{kata.id}")
        for i, folder in enumerate(check_dirs):
            _add_tree(zf, folder, f"instructor_checks/{i}")
    return config


def cmd_bundle(args) -> int:
    check_dirs = []
    for folder in args.checks:
        if not Path(folder).is_dir():
            raise UsageError(f"--checks: no such folder: {folder}")
        check_dirs.append(Path(folder).resolve())
    if args.budget <= RESERVE:
        raise UsageError(f"--budget must be more than {RESERVE:g} s")
    output = Path(args.output)
    config = build_bundle(args.katas, output, check_dirs, args.budget)
    print(f"wrote {output}: {', '.join(config['katas'])}, {args.budget:g} s per submission"
          + (f", {len(check_dirs)} folder(s) of instructor checks" if check_dirs else ""))
    print("upload it on Gradescope (Configure Autograder, base image Ubuntu 22.04 or later); students submit "
          "their program file, or a folder per kata named after it (kata5/server.py)")
    return 0


# -- inside the container -------------------------------------------------------

class Paths:
    def __init__(self):
        root = Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
        self.source = Path(os.environ.get("AUTOGRADER_SOURCE", root / "source"))
        self.submission = Path(os.environ.get("AUTOGRADER_SUBMISSION", root / "submission"))
        self.results = Path(os.environ.get("AUTOGRADER_RESULTS", root / "results" / "results.json"))


def run() -> int:
    from grader.batch import runner
    from grader.batch.discover import Submission, locate
    from grader.report.gradescope import results_json
    from grader.report.partial import write_atomically
    from grader.runner import reaper
    from grader.runner.launch import RUN_MARK

    start = time.monotonic()
    paths = Paths()
    paths.results.parent.mkdir(parents=True, exist_ok=True)
    config = json.loads((paths.source / CONFIG).read_text())
    budget = float(os.environ.get("GRADER_GRADESCOPE_BUDGET", config.get("budget", 540)))
    katas = [find_kata(k) for k in config["katas"]]
    check_dirs = [paths.source / d for d in config.get("checks", [])]
    state = {k.id: runner.complete(k, None, NOT_YET) for k in katas}
    output: list[str] = []

    def publish() -> None:
        data = results_json([state[k.id] for k in katas], execution_time=time.monotonic() - start,
                            output=output, extra={"grader_version": __version__, "katas": config["katas"]})
        write_atomically(paths.results, json.dumps(data, indent=2))

    publish()
    reaper.become_subreaper()
    base_mark = f"{os.environ.get(RUN_MARK) or 'gradescope'}-{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix="gradescope-"))
    for i, kata in enumerate(katas):
        folder, problem = locate(paths.submission, kata.program, kata.id, named_first=len(katas) > 1)
        if folder is None:
            state[kata.id] = runner.complete(kata, None, problem.replace("the submission", "your submission"))
            publish()
            continue
        left = budget - (time.monotonic() - start) - RESERVE
        share = left / (len(katas) - i)
        if share < 1:
            state[kata.id] = runner.complete(kata, None, "not graded: no time was left for this kata")
            publish()
            continue
        sub = Submission(student="submission", key=kata.id, root=paths.submission, folder=folder)
        job = runner.Job(kata=kata, sub=sub, out=work, timeout=share, mark=f"{base_mark}.{i}",
                         checks=check_dirs)

        def progress(partial, kata=kata):
            state[kata.id] = runner.complete(kata, partial, NOT_YET)
            publish()

        try:
            result = runner.grade_submission(job, on_progress=progress)
        except Exception as exc:  # the container, not the student: say so, keep the file valid
            result = runner.complete(kata, None, f"the autograder failed ({type(exc).__name__}: {exc}); "
                                                 "please tell your instructor")
        result["program"] = f"your {kata.role} ({folder.relative_to(paths.submission) / kata.program})"
        state[kata.id] = result
        publish()
    runner.kill_leftovers(base_mark, prefix=True)
    # What Gradescope shows the instructor under "stdout" (hidden from students).
    print(json.loads(paths.results.read_text())["output"])
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] != ["run"]:
        print("usage: python -m grader.platforms.gradescope run", file=sys.stderr)
        return 2
    return run()


if __name__ == "__main__":
    raise SystemExit(main())
