"""``grader check --all``: the whole course, each kata graded in its own
grader process (its own network namespace, its own process tree), a few at
once. One kata that crashes or hangs costs that kata, never the others."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from grader.course import load_course, ordered
from grader.engine.results import CheckResult, KataResult

KATA_TIMEOUT = 600


def _argv(kata_id: str, args) -> list[str]:
    argv = [sys.executable, "-m", "grader", "check", kata_id, "--format", "json"]
    if args.solution:
        argv.append("--solution")
    if args.submission:
        argv += ["--submission", f"{args.submission}/{kata_id}"]
    if args.cmd:
        argv += ["--cmd", args.cmd]
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
    if args.evidence:
        argv += ["--evidence", f"{args.evidence}/{kata_id}"]
    if args.no_isolation:
        argv.append("--no-isolation")
    if args.reveal:
        argv.append("--reveal")
    for folder in args.checks:
        argv += ["--checks", folder]
    return argv


def _grade(kata, args) -> dict:
    try:
        done = subprocess.run(_argv(kata.id, args), capture_output=True, text=True, timeout=KATA_TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"kata": kata.id, "title": kata.title, "score": 0, "max_score": kata.max_points, "checks": [],
                "error": f"grading {kata.id} took longer than {KATA_TIMEOUT} s", "exit": 2}
    try:
        data = json.loads(done.stdout)
    except ValueError:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        data = {"kata": kata.id, "title": kata.title, "score": 0, "max_score": kata.max_points, "checks": [],
                "error": last}
    data["exit"] = done.returncode
    return data


def _as_result(data: dict) -> KataResult:
    result = KataResult(kata=data["kata"], title=data.get("title", ""), stretch=data.get("stretch", 1.0),
                        seed=data.get("seed", 0), notes=data.get("notes", []), error=data.get("error"),
                        not_implemented=data.get("not_implemented", False),
                        evidence_dir=data.get("evidence_dir"))
    for c in data.get("checks", []):
        result.checks.append(CheckResult(id=c["id"], name=c["name"], status=c["status"],
                                         max_score=c["max_score"], message=c.get("message", ""),
                                         hint=c.get("hint", ""), details=c.get("details", []),
                                         evidence=c.get("evidence", []), duration=c.get("duration", 0.0),
                                         hidden=c.get("hidden", False)))
    return result


def check_all(args) -> int:
    katas = ordered(load_course())
    if args.submission:
        from pathlib import Path

        from grader.errors import UsageError
        if not Path(args.submission).is_dir():
            raise UsageError(f"no such submission folder: {args.submission}")
    reporter = None
    if args.format == "text":
        from grader.report.text import TextReporter
        reporter = TextReporter(verbose=args.verbose, reveal=args.reveal)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(_grade, kata, args) for kata in katas]
        results = []
        for kata, future in zip(katas, futures):
            data = future.result()
            results.append(data)
            if reporter:
                result = _as_result(data)
                reporter.start(kata, "the reference solution" if args.solution else f"your {kata.role}")
                for check in result.checks:
                    reporter.check(check)
                reporter.finish(result)
    if reporter:
        reporter.course([_as_result(d) for d in results])
        reporter.console.print(f"[dim]graded in {time.monotonic() - start:.0f} s[/]")
    elif args.format == "junit":
        from grader.report.junit import junit_xml
        print(junit_xml([{k: v for k, v in d.items() if k != "exit"} for d in results]), end="")
    else:
        from grader.report.json_report import course_json, dumps
        print(dumps(course_json([{k: v for k, v in d.items() if k != "exit"} for d in results])))
    codes = [d.get("exit", 2) for d in results]
    if any(c == 2 or c not in (0, 1) for c in codes):
        return 2
    return 1 if any(c == 1 for c in codes) else 0
