"""The ``grader`` command.

Exit status (KATAS.md): 0 every check that ran passed, 1 points lost, 2 the
grader could not run what it was asked, with one line saying why. No
traceback reaches the user: usage errors are UsageError, a learner's program
failing is a lost point, and the grader's own bugs are reported as such."""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

from grader import __version__
from grader.course import Kata, course_root, find_kata, load_course, ordered
from grader.errors import UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see grader {self.prog.split()[-1]} --help)"
                         if " " in self.prog else f"{message} (see grader --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="grader", description="Grade socket katas from outside the program.")
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    sub.add_parser("list", help="every kata, its title and your standing")

    check = sub.add_parser("check", help="grade a kata (your working copy by default)")
    check.add_argument("kata", nargs="?", help="kata id, e.g. kata1")
    check.add_argument("--all", action="store_true", help="grade every kata of the course")
    source = check.add_mutually_exclusive_group()
    source.add_argument("--solution", action="store_true", help="grade the reference solution")
    source.add_argument("--submission", metavar="DIR", help="grade a copy of DIR (with --all: DIR/kataN)")
    source.add_argument("--cmd", metavar="COMMAND",
                        help="grade any program: {host} {port} ({root} {timeout} {retries}) are filled in")
    check.add_argument("--format", choices=("text", "json", "junit"), default="text")
    check.add_argument("--reveal", action="store_true",
                       help="show hidden checks' details (for instructors)")
    check.add_argument("--progress-file", metavar="FILE", help=argparse.SUPPRESS)
    check.add_argument("--seed", type=int, help="seed for random payloads (printed in every report)")
    check.add_argument("--evidence", metavar="DIR", help="where pcaps and /proc snapshots of failures go")
    check.add_argument("--checks", metavar="DIR", action="append", default=[],
                       help="add an instructor's pytest checks from DIR")
    check.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                       help="katas graded at once with --all")
    check.add_argument("--no-isolation", action="store_true",
                       help="grade on the host's loopback instead of a private network namespace")
    check.add_argument("-v", "--verbose", action="store_true", help="show details of passed checks too")
    from grader.batch.commands import register
    register(sub)  # grade, gradescope, classroom: whole-course tools
    return parser


# How a stop signal (SIGTERM from a platform's timeout, SIGHUP, Ctrl-C) is
# taken: while "armed" it unwinds like Ctrl-C, so every fixture stops its
# learner program; otherwise (setting up, writing the report) it is only
# remembered, and the report then says it is partial. Either way a report is
# written, valid JSON with --format json.
_SIGNALS = {"armed": True, "received": None}


def _interrupted(signum, frame):
    _SIGNALS["received"] = _SIGNALS["received"] or signum
    if _SIGNALS["armed"]:
        _SIGNALS["armed"] = False   # once: a second signal must not break the cleanup
        raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, _interrupted)
    try:
        args = build_parser().parse_args(argv)
        if args.command == "list":
            return cmd_list()
        if args.command == "check":
            return cmd_check(args)
        if getattr(args, "run", None):
            return args.run(args)
        build_parser().print_help()
        return 2
    except UsageError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("grader: interrupted", file=sys.stderr)
        return 130


def cmd_list() -> int:
    from rich.console import Console
    from rich.table import Table

    from grader import progress
    root = course_root()
    standing = progress.load(root)
    table = Table("kata", "title", "points", "your standing", box=None)
    for kata in ordered(load_course(root)):
        seen = standing.get(kata.id)
        if seen is None:
            mark = "[dim]not graded yet[/]"
        elif seen.get("not_implemented"):
            mark = "[yellow]not started[/]"
        elif seen["score"] == seen["max_score"]:
            mark = f"[green]done ✓ {seen['score']}/{seen['max_score']}[/]"
        else:
            mark = f"[red]{seen['score']}/{seen['max_score']}[/]"
        table.add_row(kata.id, kata.title, str(kata.max_points), mark)
    Console().print(table)
    return 0


def _launch_spec(kata: Kata, args):
    from grader.runner.launch import LaunchSpec
    if args.cmd:
        return LaunchSpec.for_command(args.cmd, kata.flags)
    if args.solution:
        return LaunchSpec.for_python(kata.solution, kata.program, kata.flags, label="the reference solution")
    if args.submission:
        folder = Path(args.submission)
        if args.all:
            folder = folder / kata.id
        if not folder.is_dir():
            raise UsageError(f"no such submission folder: {folder}")
        return LaunchSpec.for_python(folder, kata.program, kata.flags, label=f"your {kata.role}")
    return LaunchSpec.for_python(kata.folder, kata.program, kata.flags, label=f"your {kata.role}")


def cmd_check(args) -> int:
    if args.all:
        if args.kata:
            raise UsageError("give a kata or --all, not both")
        from grader.batch_all import check_all
        return check_all(args)
    if not args.kata:
        raise UsageError("which kata? e.g. grader check kata1 (or --all)")
    kata = find_kata(args.kata)
    launch = _launch_spec(kata, args)
    for folder in args.checks:
        if not Path(folder).is_dir():
            raise UsageError(f"--checks: no such folder: {folder}")
    return grade_one(kata, launch, args)


def grade_one(kata: Kata, launch, args) -> int:
    # Order matters: the namespaces before any thread, the subreaper before
    # any learner process (runner/sandbox.py). Until the report is written,
    # a stop signal is only remembered (see _interrupted).
    _SIGNALS["armed"] = False
    from grader.runner import sandbox as sandboxes
    run = sandboxes.begin(kata.params, network=not args.no_isolation)
    try:
        launch = run.adapt(launch)
        return _grade_contained(kata, launch, args, run)
    finally:
        run.close()


def _grade_contained(kata: Kata, launch, args, run) -> int:
    notes = run.notes
    private_network = run.private_network

    from grader.engine.context import GradingContext
    from grader.engine.session import grade
    from grader.engine.timing import Clock, stretch_factor
    from grader.probes import wire
    from grader.report.text import TextReporter

    seed = args.seed if args.seed is not None else random.randrange(1, 10**6)
    random.seed(seed)
    from grader.runner.sandbox import private_folder
    evidence = Path(args.evidence) if args.evidence else \
        private_folder(Path(tempfile.gettempdir()) / f"socket-katas-{os.getuid()}") / \
        f"{kata.id}-{int(time.time())}-{os.getpid()}"
    reporter = TextReporter(verbose=args.verbose, reveal=args.reveal) if args.format == "text" else None
    on_result = reporter.check if reporter else None
    if args.progress_file:
        from grader.report.partial import PartialWriter
        on_result = PartialWriter(args.progress_file, kata, reveal=args.reveal, then=on_result)
    run.share_folder(evidence)
    graded = []

    def collect(check_result, then=on_result):
        graded.append(check_result)
        if then:
            then(check_result)

    ctx = GradingContext(kata=kata, launch=launch, clock=Clock(stretch_factor()), seed=seed,
                         evidence_dir=evidence, wire_unavailable=wire.available(),
                         on_result=collect, sandbox=run,
                         extra_check_dirs=tuple(Path(d).resolve() for d in args.checks), notes=notes,
                         private_network=private_network)
    if reporter:
        reporter.start(kata, launch.label)
    result = _grade_or_partial(ctx, graded, grade)
    run.close()
    result.notes.extend(run.closing_notes(launch.label))
    result.program = launch.label
    result.not_implemented = any("not implemented yet" in c.message for c in result.checks)
    if evidence.exists() and any(evidence.iterdir()):
        result.evidence_dir = str(evidence)
    if reporter:
        reporter.finish(result)
    else:
        from grader.report.hidden import redact
        from grader.report.json_report import dumps, kata_json
        data = kata_json(result) if args.reveal else redact(kata_json(result))
        if args.format == "junit":
            from grader.report.junit import junit_xml
            print(junit_xml([data]), end="")
        else:
            print(dumps(data))
    if launch.source is not None and launch.source.resolve() == kata.folder.resolve():
        from grader import progress
        progress.record(kata.root, result)
    if result.error:
        if reporter is None:
            print(f"grader: {result.error}", file=sys.stderr)
        return 2
    return 0 if result.all_passed else 1


def _grade_or_partial(ctx, graded: list, grade):
    """Grade, and whatever happens (a stop signal, the grader's own crash)
    return a result: what was graded so far, the rest marked not reached,
    and an error saying why the report is partial."""
    from grader.engine.results import NOT_RUN, CheckResult, KataResult
    kata = ctx.kata
    result, error = None, None
    if _SIGNALS["received"] is None:
        _SIGNALS["armed"] = True
        try:
            with ctx.sandbox.inspecting():
                result = grade(ctx)
        except KeyboardInterrupt:
            pass
        except Exception as exc:    # the grader's own bug: still a report, never a traceback
            error = f"the grader hit an internal error ({type(exc).__name__}: {exc}); this report is partial"
        finally:
            _SIGNALS["armed"] = False
    if result is None:
        result = KataResult(kata=kata.id, title=kata.title, checks=list(graded), stretch=ctx.clock.stretch,
                            seed=ctx.seed, notes=list(ctx.notes))
    if _SIGNALS["received"] is not None:
        name = signal.Signals(_SIGNALS["received"]).name
        error = (f"interrupted by {name} after {len(result.checks)} of {len(kata.checks)} checks: "
                 "this report is partial")
    if error:
        result.error = error if _SIGNALS["received"] is not None else result.error or error
        done = {c.id for c in result.checks}
        for cid, points in kata.checks.items():
            if cid not in done:
                result.checks.append(CheckResult(id=cid, name=cid.replace("_", " "), status=NOT_RUN,
                                                 max_score=points, message="not reached: " + error))
    return result
