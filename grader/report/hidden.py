"""Hidden checks: their points count, but what they send and expect stays
the instructor's until the instructor reveals it.

Rule: every report a learner reads (text, JSON, JUnit) shows a hidden check's
name, status and points, never its message, hint, exchange or evidence,
unless the grader was run with ``--reveal``. Instructor tools (``grader
grade``, the Gradescope runner) always grade with ``--reveal`` and decide
themselves who sees what (Gradescope: ``after_due_date``)."""

from __future__ import annotations

HIDDEN_NOTE = "a hidden check: its details are shown after the due date"


def redact_check(check: dict) -> dict:
    """A check's JSON as a learner may see it."""
    if not check.get("hidden"):
        return check
    out = dict(check)
    out.update(message=HIDDEN_NOTE if check.get("status") != "passed" else "",
               hint="", details=[], evidence=[])
    return out


def redact(kata: dict) -> dict:
    """A kata's JSON (``grader check --format json``) with hidden checks redacted."""
    out = dict(kata)
    out["checks"] = [redact_check(c) for c in kata.get("checks", [])]
    return out
