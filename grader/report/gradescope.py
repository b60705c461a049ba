"""Gradescope's ``results.json`` from the JSON of ``grader check``.

Format as Gradescope's autograder specification defines it (the "Output
format", "Controlling Test Case Visibility" and "Test case status" sections
of gradescope-autograders.readthedocs.io/en/latest/specs/, autograder_samples
docs/specs.md as of 2024): top level ``score``, ``execution_time``,
``output``, ``output_format``, ``stdout_visibility``, ``extra_data``,
``tests``; each test ``name``, ``score``, ``max_score``, ``status``
(passed/failed), ``output`` (text), ``output_format``, ``number``, ``tags``,
``visibility``, ``extra_data``.

Rules: one test per check. Its output is the text report's: the one-line
reason, the hint, the exchange (evidence paths are left out: they point
into the container). A check not run here scores 0 of 0 and is marked
failed (never passed) with its reason. A hidden check is graded like any
other and shown ``after_due_date``. The top-level output says each kata's
score, why a kata was not graded in full, and the grader's notes."""

from __future__ import annotations

AFTER_DUE = "after_due_date"
VISIBLE = "visible"


def test_output(check: dict) -> str:
    if check["status"] == "passed":
        return check.get("message") or "passed"
    lines = [check.get("message") or "failed"]
    if check.get("hint") and check["status"] == "failed":
        lines.append(f"hint: {check['hint']}")
    details = check.get("details") or []
    if details:
        lines.append("")
        lines += details
    return "\n".join(lines)


def tests_of(kata: dict, index: int, prefix: bool) -> list[dict]:
    tests = []
    for n, check in enumerate(kata.get("checks", []), 1):
        not_run = check["status"] == "not_run"
        tests.append({
            "name": (f"{kata['kata']} · " if prefix else "") + check["name"],
            "number": f"{index}.{n}",
            "score": 0 if not_run else check["score"],
            "max_score": 0 if not_run else check["max_score"],
            "status": "passed" if check["status"] == "passed" else "failed",
            "output": test_output(check),
            "output_format": "text",
            "tags": [kata["kata"], check["id"]] + (["not_run"] if not_run else []),
            "visibility": AFTER_DUE if check.get("hidden") else VISIBLE,
            "extra_data": {"kata": kata["kata"], "check": check["id"], "grader_status": check["status"]},
        })
    return tests


def results_json(katas: list[dict], *, execution_time: float, output: list[str] = (),
                 extra: dict | None = None) -> dict:
    prefix = len(katas) > 1
    tests = []
    lines = list(output)
    for i, kata in enumerate(katas, 1):
        tests += tests_of(kata, i, prefix)
        lines.append(f"{kata['kata']} · {kata.get('title', '')}: {kata.get('score', 0)}/{kata.get('max_score', 0)}")
        if kata.get("error"):
            lines.append(f"  not graded in full: {kata['error']}")
        not_run = [c["name"] for c in kata.get("checks", []) if c["status"] == "not_run"]
        if not_run:
            lines.append(f"  {len(not_run)} check{'s' if len(not_run) != 1 else ''} could not run here "
                         "and count for nothing either way")
        for note in kata.get("notes", []):
            lines.append(f"  note: {note}")
    return {
        "score": sum(t["score"] for t in tests),
        "execution_time": int(round(execution_time)),
        "output": "\n".join(lines),
        "output_format": "text",
        "test_output_format": "text",
        "stdout_visibility": "hidden",
        "extra_data": dict(extra or {}),
        "tests": tests,
    }
