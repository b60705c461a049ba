"""How long ``grader grade`` takes for a class (not a test: pytest does not
collect this folder).

    .venv/bin/python benchmarks/batch.py kata1 -n 300          # the README's figure
    .venv/bin/python benchmarks/batch.py kata5 -n 300 --jobs 2
    .venv/bin/python benchmarks/batch.py kata1 -n 30 --mix     # with the stub and broken programs

It makes N submissions (copies of the kata's reference solution; with
``--mix`` every fourth is the stub or one of tests/submissions/KATA/*),
grades them with ``grader grade KATA DIR --jobs J`` into a temporary folder,
and prints the wall-clock time, the time per submission, and what that
makes for 300. With a small N the figure for 300 is an extrapolation, and
the output says so."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_class(kata: str, n: int, into: Path, mix: bool) -> None:
    solution = ROOT / "solutions" / kata
    others = [ROOT / "katas" / kata]
    broken = ROOT / "tests" / "submissions" / kata
    if broken.is_dir():
        others += sorted(p for p in broken.iterdir() if p.is_dir())
    for i in range(n):
        source = others[(i // 4) % len(others)] if mix and i % 4 == 3 else solution
        shutil.copytree(source, into / f"student{i:04d}", ignore=shutil.ignore_patterns("expected.toml",
                                                                                       "__pycache__"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kata")
    parser.add_argument("-n", type=int, default=300, help="submissions (default 300)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--mix", action="store_true", help="every fourth submission is the stub or a broken one")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--keep", metavar="DIR", help="grade into DIR and keep it (default: a temporary folder)")
    args = parser.parse_args()

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-batch-"))
    klass, out = work / "class", work / "out"
    shutil.rmtree(klass, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    klass.mkdir(parents=True)
    make_class(args.kata, args.n, klass, args.mix)
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "grader", "grade", args.kata, str(klass), "-o", str(out),
                           "--jobs", str(args.jobs), "--timeout", str(args.timeout)],
                          stdin=subprocess.DEVNULL, cwd=ROOT)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU time of everything the run started (graders and learners, reaped
    # by their subreapers): what other load on the machine changes least.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cores = os.cpu_count() or 1
    if done.returncode != 0:
        print(f"grader grade exited with {done.returncode}", file=sys.stderr)
        return done.returncode
    results = [json.loads(p.read_text()) for p in (out / "results").glob("*.json")]
    per = wall / args.n
    seconds = [r["grading"]["seconds"] for r in results]
    full = sum(1 for r in results if r["score"] == r["max_score"])
    errors = sum(1 for r in results if r.get("error"))
    print(f"\n{args.kata}: {args.n} submissions, --jobs {args.jobs}, {os.cpu_count()} cores, "
          f"load average {load:.1f} at the start")
    print(f"  wall clock {wall:.0f} s = {wall / 60:.1f} min · {per:.2f} s per submission · "
          f"one grading {min(seconds):.1f}–{max(seconds):.1f} s (mean {sum(seconds) / len(seconds):.1f})")
    print(f"  {full} full marks, {errors} not graded in full")
    print(f"  CPU {cpu / args.n:.2f} s per submission: on {cores} idle cores, 300 need at least "
          f"{cpu / args.n * 300 / cores / 60:.1f} min")
    print(f"  load average {os.getloadavg()[0]:.1f} at the end (other work on the machine slows the wall clock)")
    if args.n != 300:
        print(f"  300 submissions: about {per * 300 / 60:.1f} min (extrapolated from {args.n})")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
