"""Live coloured text: each check as it finishes, then the score.

Two voices: the check's name and message are for the learner (what we saw),
the hint says what to try; the indented lines are the exchange and the
evidence, prefixed by who said them (grader>, server>)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markup import escape

from grader.engine.results import FAILED, NOT_RUN, PASSED, CheckResult, KataResult

MARKS = {PASSED: "[green]✓[/]", FAILED: "[red]✗[/]", NOT_RUN: "[yellow]–[/]"}


class _PipeSafe:
    """stdout that goes quiet when its reader leaves (``grader check | head``):
    the grading goes on, and its exit status still tells the score."""

    def __init__(self, stream):
        self._stream = stream
        self._gone = False

    def write(self, text):
        if not self._gone:
            try:
                self._stream.write(text)
            except BrokenPipeError:
                self._gone = True
        return len(text)

    def flush(self):
        if not self._gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._gone = True

    def isatty(self):
        return self._stream.isatty()

    def fileno(self):
        return self._stream.fileno()


class TextReporter:
    def __init__(self, console: Console | None = None, verbose: bool = False, reveal: bool = False):
        # Bound to the real stdout now: pytest's run redirects sys.stdout later.
        self.console = console or Console(file=_PipeSafe(sys.stdout), highlight=False,
                                          soft_wrap=not sys.stdout.isatty())
        self.verbose = verbose
        self.reveal = reveal  # an instructor's run: hidden checks in full

    def start(self, kata, program: str) -> None:
        self.console.print(f"[bold]{kata.id}[/] · {escape(kata.title)}  [dim]({escape(program)})[/]")

    def check(self, result: CheckResult) -> None:
        c = self.console
        points = f"{result.score}/{result.max_score}" if result.status != NOT_RUN else "not run"
        tag = " [dim](hidden)[/]" if result.hidden else ""
        c.print(f"  {MARKS[result.status]} {escape(result.name)}{tag} [dim]{points}[/]")
        if result.hidden and result.status != PASSED and not self.reveal:
            c.print("      [dim](a hidden check: its details are shown after the due date)[/]")
            return
        if result.status == PASSED and not self.verbose:
            return
        if result.message:
            colour = "red" if result.status == FAILED else "yellow"
            c.print(f"      [{colour}]{escape(result.message)}[/]")
        if result.hint and result.status == FAILED:
            c.print(f"      [cyan]hint:[/] {escape(result.hint)}")
        for line in result.details:
            c.print(f"      [dim]│[/] {escape(line)}")
        for path in result.evidence:
            c.print(f"      [dim]evidence: {escape(path)}[/]")

    def finish(self, result: KataResult) -> None:
        c = self.console
        if result.error:
            c.print(f"[red]grader: {escape(result.error)}[/]")
            return
        if result.not_implemented:
            c.print(f"  [yellow]{result.kata} is not implemented yet:[/] fill in the TODOs in the stub, "
                    f"then run [bold]grader check {result.kata}[/] again.")
        colour = "green" if result.all_passed else "red"
        not_run = sum(1 for r in result.checks if r.status == NOT_RUN)
        extra = f" · {not_run} not run here" if not_run else ""
        c.print(f"  [bold {colour}]score {result.score}/{result.max_score}[/]{extra}"
                f"  [dim]stretch {result.stretch:g} · seed {result.seed}[/]")
        for note in result.notes:
            c.print(f"  [dim]note: {escape(note)}[/]")
        if result.evidence_dir:
            c.print(f"  [dim]evidence kept in {escape(result.evidence_dir)}[/]")

    def course(self, results: list[KataResult]) -> None:
        score = sum(r.score for r in results)
        total = sum(r.max_score for r in results)
        self.console.print(f"[bold]course: {score}/{total}[/]")
