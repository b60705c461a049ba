"""``grader grade KATA DIR``: a class of submissions, several at once.

Rules:
- what is already graded with the same grader and the same files is reused
  (``--force`` grades everything again); each result is saved the moment it
  is known, so an interrupted run (Ctrl-C, SIGTERM, a crash) continues where
  it stopped when run again;
- up to ``--jobs`` gradings run at once (default: the machine's cores), each
  a ``grader check`` process of its own (see runner);
- a progress bar with the ETA and the running class average on a terminal,
  one line per submission otherwise;
- at the end (and after an interruption, for what is done): the CSV, the
  HTML summary and ``batch.json``, and nothing left running."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from grader.batch import discover, runner
from grader.batch.html import write_html
from grader.batch.store import GRADER_DIED, Store, files_fingerprint, grader_failed, grader_fingerprint
from grader.batch.table import write_csv
from grader.course import find_kata
from grader.errors import UsageError
from grader.report.partial import write_atomically
from grader.runner import reaper
from grader.runner.launch import RUN_MARK


def _average(results: list[dict]) -> str:
    if not results:
        return "–"
    score = statistics.fmean(r.get("score", 0) for r in results)
    top = statistics.fmean(r.get("max_score", 0) for r in results)
    return f"{score:.1f}/{top:g}"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class _Display:
    """A rich progress bar on a terminal; one plain line per submission
    otherwise (a log, CI, a pipe)."""

    def __init__(self, console: Console, kata_id: str, total: int, reused: int):
        self.console = console
        self.total = total
        self.done = 0
        self.start = time.monotonic()
        self.progress = None
        if console.is_terminal and total:
            self.progress = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                                     MofNCompleteColumn(), TextColumn("avg {task.fields[avg]}"),
                                     TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                     console=console, transient=False)
            self.progress.start()
            label = f"{kata_id}" + (f" ({reused} already graded)" if reused else "")
            self.task = self.progress.add_task(label, total=total, avg="–")

    def advance(self, student: str, data: dict, seconds: float, average: str) -> None:
        self.done += 1
        if self.progress:
            self.progress.update(self.task, advance=1, avg=average)
            return
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        error = f"  [red]{escape(data['error'])}[/]" if data.get("error") else ""
        self.console.print(f"[{self.done:>{len(str(self.total))}}/{self.total}] {escape(student)}: "
                           f"{data.get('score', 0)}/{data.get('max_score', 0)} in {seconds:.1f} s · "
                           f"avg {average} · ETA {_duration(eta)}{error}", highlight=False)

    def close(self) -> None:
        if self.progress:
            self.progress.stop()


def cmd_grade(args) -> int:
    kata = find_kata(args.kata)
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    check_dirs = []
    for folder in args.checks:
        if not Path(folder).is_dir():
            raise UsageError(f"--checks: no such folder: {folder}")
        check_dirs.append(Path(folder).resolve())
    out = Path(args.out or f"grades-{kata.id}").resolve()
    subs = discover.submissions([Path(p) for p in args.paths], kata.program, kata.id, out / "submissions",
                                exclude=out)
    store = Store(out)  # made only now: a usage error leaves no empty output folder behind
    grader = grader_fingerprint(kata, check_dirs, {"seed": args.seed, "isolation": not args.no_isolation})
    console = Console(file=sys.stderr, highlight=False, soft_wrap=not sys.stderr.isatty())

    reaper.become_subreaper()
    base_mark = f"{os.environ.get(RUN_MARK) or 'batch'}-{os.getpid()}"
    files = {sub.key: files_fingerprint(sub.root) for sub in subs}
    todo = []
    reused = 0
    for sub in subs:
        if not args.force and store.reusable(sub.key, files[sub.key], grader):
            reused += 1
        else:
            todo.append(sub)

    stop = threading.Event()
    done_now: list[str] = []
    lock = threading.Lock()

    def work(index: int, sub: discover.Submission):
        job = runner.Job(kata=kata, sub=sub, out=out, timeout=args.timeout, mark=f"{base_mark}.{index}",
                         checks=check_dirs, seed=args.seed, no_isolation=args.no_isolation)
        started = time.monotonic()
        try:
            data = runner.grade_submission(job, stop)
        except Exception as exc:  # the machine, not the student (no processes left, a full disk)
            data = runner.complete(kata, None, f"{GRADER_DIED} (could not run it: {type(exc).__name__}: {exc})")
        if stop.is_set():
            return sub, None, 0.0  # half-graded by the interruption: grade it next time
        seconds = time.monotonic() - started
        data = runner.stamp(data, job, files[sub.key], grader, seconds)
        store.save(sub.key, data)
        return sub, data, seconds

    display = _Display(console, kata.id, len(todo), reused)
    known = [d for d in (store.load(s.key) for s in subs if s not in todo) if d]
    start = time.monotonic()
    interrupted = False
    pool = ThreadPoolExecutor(max_workers=args.jobs)
    try:
        pending = {pool.submit(work, i, sub) for i, sub in enumerate(todo)}
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                sub, data, seconds = future.result()
                if data is None:
                    continue
                with lock:
                    done_now.append(sub.key)
                    known.append(data)
                display.advance(sub.student, data, seconds, _average(known))
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        console.print("[yellow]interrupted: stopping the gradings in progress…[/]")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        display.close()
        runner.kill_leftovers(base_mark, prefix=True)
        shutil.rmtree(out / ".partial", ignore_errors=True)

    rows = []
    for sub in sorted(subs, key=lambda s: s.student.casefold()):
        data = store.load(sub.key)
        if data and data.get("grading", {}).get("files") == files[sub.key]:
            rows.append((sub.student, sub.key, data))
    info = {"kata": kata.id, "title": kata.title, "grader": grader, "students": len(subs),
            "graded": len(rows), "graded_now": sorted(done_now), "reused": reused,
            "seconds": round(time.monotonic() - start, 1), "jobs": args.jobs, "interrupted": interrupted,
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "average": statistics.fmean(d.get("score", 0) for _, _, d in rows) if rows else 0,
            "stale_results": store.stale_keys({s.key for s in subs})}
    write_csv(out / "grades.csv", kata, [(student, data) for student, _, data in rows])
    index = write_html(out, kata, rows, info)
    write_atomically(out / "batch.json", json.dumps(info, indent=2))

    print(f"{kata.id}: {len(subs)} submissions · {len(done_now)} graded now, {reused} already graded · "
          f"{_duration(info['seconds'])} with {args.jobs} at once")
    if rows:
        print(f"class average {_average([d for _, _, d in rows])} · "
              f"{sum(1 for _, _, d in rows if d.get('error'))} not graded in full")
    spoiled = [student for student, _, d in rows if grader_failed(d)]
    if spoiled:
        print(f"the grader itself failed on {len(spoiled)} submission{'s' if len(spoiled) != 1 else ''} "
              f"({', '.join(spoiled[:5])}{', …' if len(spoiled) > 5 else ''}): not the students' fault; "
              "run the same command again to grade them again", file=sys.stderr)
    print(f"results {out / 'results'}/ · CSV {out / 'grades.csv'} · summary {index}")
    if interrupted:
        left = len(subs) - len(rows)
        print(f"interrupted with {left} submission{'s' if left != 1 else ''} left: "
              "run the same command again to continue", file=sys.stderr)
        return 130
    return 0
