"""The class as a CSV: one row per student, one column per check.

Columns: ``student``, ``score``, ``max_score``, then one column per check id
(the kata's checks in course order, then any instructor check), holding the
points earned (empty when the check was not run for that student), then
``error`` (why a submission could not be graded in full, else empty)."""

from __future__ import annotations

import csv
from pathlib import Path

from grader.course import Kata


def check_columns(kata: Kata, results: list[dict]) -> list[tuple[str, str]]:
    """(id, name) of every check seen, in course order, instructor checks after."""
    names = {}
    for data in results:
        for c in data.get("checks", []):
            names.setdefault(c["id"], c.get("name", c["id"]))
    ordered = [cid for cid in kata.checks]
    ordered += [cid for cid in names if cid not in kata.checks]
    return [(cid, names.get(cid, cid.replace("_", " "))) for cid in ordered]


def _text(value: str) -> str:
    # A folder named "=HYPERLINK(...)" must not become a formula in a spreadsheet.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def write_csv(path: Path, kata: Kata, rows: list[tuple[str, dict]]) -> None:
    """``rows``: (student, result JSON), in the order they are written."""
    columns = check_columns(kata, [data for _, data in rows])
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "score", "max_score", *[cid for cid, _ in columns], "error"])
        for student, data in rows:
            by_id = {c["id"]: c for c in data.get("checks", [])}
            cells = []
            for cid, _ in columns:
                c = by_id.get(cid)
                cells.append("" if c is None or c["status"] == "not_run" else c["score"])
            writer.writerow([_text(student), data.get("score", 0), data.get("max_score", 0), *cells,
                             _text(data.get("error") or "")])
    tmp.replace(path)
