"""The class at a glance: ``index.html``, and one report page per student.

Rules: every page is self-contained (inline CSS, inline SVG, a few lines of
inline script for sorting; nothing fetched from anywhere), so it can be
mailed or opened from a USB stick. Every string that came from a
submission (names, messages, exchanges) is escaped. The summary shows the
score distribution as a chart, each check's pass rate (which lesson the
class missed), and a row per student linking to that student's page, which
shows everything the grader saw, hidden checks included (it is the
instructor's copy)."""

from __future__ import annotations

import os
import statistics
from html import escape
from pathlib import Path

from grader.batch.store import grader_failed
from grader.batch.table import check_columns
from grader.course import Kata

MARK = {"passed": "✓", "failed": "✗", "not_run": "–"}

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;
 padding:0 1rem;color:#1d2330;background:#fff}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.15rem;margin:2rem 0 .6rem}
.sub{color:#5b6475}.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #dde2ea;border-radius:8px;padding:.6rem 1rem;min-width:8rem}
.card b{display:block;font-size:1.4rem}
table{border-collapse:collapse;width:100%}th,td{padding:.3rem .5rem;border-bottom:1px solid #eceff4;
 text-align:left;vertical-align:top}th{background:#f5f7fa;cursor:pointer;white-space:nowrap}
td.num,th.num{text-align:right}td.c{text-align:center;font-weight:bold}
.passed{color:#1a7f37}.failed{color:#c62828}.not_run{color:#9a6700}
.rate{background:#eceff4;border-radius:4px;height:14px;width:220px;display:inline-block;vertical-align:middle}
.rate i{display:block;height:100%;border-radius:4px}
.good{background:#2da44e}.mid{background:#d4a72c}.bad{background:#cf222e}
.badge{font-size:.75rem;border:1px solid #9a6700;color:#9a6700;border-radius:4px;padding:0 .3rem;margin-left:.3rem}
.err{color:#c62828}.check{border:1px solid #dde2ea;border-radius:8px;margin:.5rem 0;padding:.5rem .8rem}
.check summary{cursor:pointer}.hint{color:#0b5cad}
pre{background:#f5f7fa;padding:.5rem;border-radius:6px;overflow-x:auto;white-space:pre-wrap;font-size:13px}
svg text{font:12px system-ui,sans-serif;fill:#1d2330}svg .bar{fill:#4c78a8}svg .mean{stroke:#c62828}
"""

SORT_JS = """
document.querySelectorAll('table.sortable th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var body = th.closest('table').tBodies[0], dir = th.dataset.dir === 'asc' ? -1 : 1;
    th.dataset.dir = dir === 1 ? 'asc' : 'desc';
    Array.from(body.rows).sort(function (a, b) {
      var x = a.cells[col].dataset.v || a.cells[col].textContent, y = b.cells[col].dataset.v || b.cells[col].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      return dir * (isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : nx - ny);
    }).forEach(function (row) { body.appendChild(row); });
  });
});
"""


def _page(title: str, body: str, script: str = "") -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n{body}\n"
            + (f"<script>{script}</script>" if script else "") + "</body></html>\n")


def _pct(score: float, top: float) -> float:
    return 100.0 * score / top if top else 0.0


def histogram(results: list[dict]) -> tuple[list[str], list[int], str]:
    """Bins of the score distribution: (labels, counts, unit). Whole points
    when every student had the same maximum (up to 40), else tenths."""
    tops = {r.get("max_score", 0) for r in results}
    if len(tops) == 1 and 0 < (top := tops.pop()) <= 40:
        counts = [0] * (top + 1)
        for r in results:
            counts[min(top, max(0, r.get("score", 0)))] += 1
        return [str(i) for i in range(top + 1)], counts, "points"
    counts = [0] * 10
    for r in results:
        counts[min(9, int(_pct(r.get("score", 0), r.get("max_score", 0)) // 10))] += 1
    return [f"{10 * i}–{10 * i + 9 if i < 9 else 100}%" for i in range(10)], counts, "percent"


def histogram_svg(results: list[dict]) -> str:
    labels, counts, unit = histogram(results)
    width, height, left, bottom, top_pad = 720, 240, 36, 36, 18
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    peak = max(counts) or 1
    step = plot_w / len(counts)
    parts = [f'<svg id="score-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="score distribution">']
    parts.append(f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - 10}" y2="{top_pad + plot_h}" '
                 f'stroke="#9aa4b2"/>')
    for i, (label, count) in enumerate(zip(labels, counts)):
        h = plot_h * count / peak
        x = left + i * step + step * 0.12
        y = top_pad + plot_h - h
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{step * 0.76:.1f}" height="{h:.1f}" '
                     f'data-count="{count}"><title>{escape(label)}: {count} student'
                     f'{"s" if count != 1 else ""}</title></rect>')
        if count:
            parts.append(f'<text x="{x + step * 0.38:.1f}" y="{y - 4:.1f}" text-anchor="middle">{count}</text>')
        parts.append(f'<text x="{left + i * step + step / 2:.1f}" y="{top_pad + plot_h + 16}" '
                     f'text-anchor="middle">{escape(label)}</text>')
    if results:
        if unit == "points":
            mean = statistics.fmean(r.get("score", 0) for r in results)
            mx = left + (mean + 0.5) * step
        else:
            mean = statistics.fmean(_pct(r.get("score", 0), r.get("max_score", 0)) for r in results)
            mx = left + min(mean, 99.9) / 10 * step
        # The label sits low, clear of the count over the tallest bars, on the
        # side of the line with room.
        right = mx < left + plot_w * 0.75
        label = f"mean {mean:.1f}" + ("%" if unit == "percent" else "")
        parts.append(f'<line class="mean" x1="{mx:.1f}" y1="{top_pad}" x2="{mx:.1f}" y2="{top_pad + plot_h}" '
                     f'stroke-dasharray="4 3"/><text x="{mx + (4 if right else -4):.1f}" '
                     f'y="{top_pad + plot_h - 6}" text-anchor="{"start" if right else "end"}">{label}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">'
                 f'score ({unit})</text></svg>')
    return "".join(parts)


def pass_rates(columns: list[tuple[str, str]], results: list[dict]) -> list[dict]:
    rates = []
    for cid, name in columns:
        ran = passed = 0
        hidden = False
        for r in results:
            for c in r.get("checks", []):
                if c["id"] == cid:
                    hidden = hidden or bool(c.get("hidden"))
                    if c["status"] != "not_run":
                        ran += 1
                        passed += c["status"] == "passed"
        rates.append({"id": cid, "name": name, "ran": ran, "passed": passed, "hidden": hidden,
                      "rate": _pct(passed, ran)})
    return rates


def _rel(target: str, start: Path) -> str | None:
    try:
        return os.path.relpath(target, start)
    except ValueError:
        return None


def student_page(kata: Kata, student: str, data: dict, page: Path, out: Path) -> str:
    grading = data.get("grading", {})
    body = [f'<p><a href="../index.html">← {escape(kata.id)} class summary</a></p>',
            f"<h1>{escape(student)} · {escape(kata.id)}</h1>",
            f'<p class="sub">{escape(kata.title)}</p>',
            f'<div class="cards"><div class="card">score<b>{data.get("score", 0)}/{data.get("max_score", 0)}'
            f"</b></div>"
            f'<div class="card">graded<b style="font-size:1rem">{escape(grading.get("graded_at", "?"))}</b>'
            f'</div><div class="card">seed · stretch<b style="font-size:1rem">{escape(str(data.get("seed")))} · '
            f'{escape(str(data.get("stretch")))}</b></div></div>']
    if grading.get("folder") or grading.get("submission"):
        body.append(f'<p class="sub">graded from {escape(str(grading.get("folder") or grading.get("submission")))}'
                    f' · grader {escape(grading.get("grader", "?"))}</p>')
    if data.get("error"):
        body.append(f'<p class="err"><b>not graded in full:</b> {escape(data["error"])}</p>')
    for note in data.get("notes", []):
        body.append(f'<p class="sub">note: {escape(note)}</p>')
    for c in data.get("checks", []):
        status = c["status"]
        points = "not run" if status == "not_run" else f'{c["score"]}/{c["max_score"]}'
        badge = '<span class="badge">hidden</span>' if c.get("hidden") else ""
        inner = []
        if c.get("message"):
            inner.append(f'<p class="{status}">{escape(c["message"])}</p>')
        if c.get("hint") and status == "failed":
            inner.append(f'<p class="hint">hint: {escape(c["hint"])}</p>')
        if c.get("details"):
            inner.append("<pre>" + escape("\n".join(c["details"])) + "</pre>")
        for path in c.get("evidence", []):
            rel = _rel(path, page.parent) if str(path).startswith(str(out)) else None
            inner.append(f'<p class="sub">evidence: <a href="{escape(rel)}">{escape(rel)}</a></p>' if rel
                         else f'<p class="sub">evidence: {escape(path)}</p>')
        opened = " open" if status == "failed" else ""
        body.append(f'<details class="check" id="{escape(c["id"])}"{opened}><summary>'
                    f'<span class="{status}">{MARK.get(status, "?")}</span> {escape(c["name"])}{badge} '
                    f'<span class="sub">{points}</span></summary>{"".join(inner)}</details>')
    return _page(f"{student} · {kata.id}", "\n".join(body))


def summary_page(kata: Kata, rows: list[tuple[str, str, dict]], info: dict) -> str:
    """``rows``: (student, key, result JSON)."""
    results = [data for _, _, data in rows]
    columns = check_columns(kata, results)
    scores = [r.get("score", 0) for r in results]
    pcts = [_pct(r.get("score", 0), r.get("max_score", 0)) for r in results]
    tops = sorted({r.get("max_score", 0) for r in results})
    top = f"{tops[0]}" if len(tops) == 1 else f"{tops[0]}–{tops[-1]}" if tops else "0"
    errors = sum(1 for r in results if r.get("error"))
    spoiled = sum(1 for r in results if grader_failed(r))
    full = sum(1 for r in results if r.get("max_score") and r.get("score") == r.get("max_score"))
    body = [f"<h1>{escape(kata.id)} · {escape(kata.title)}</h1>",
            f'<p class="sub">{len(rows)} submissions · graded by grader {escape(info.get("grader", "?"))} · '
            f'{escape(info.get("finished_at", ""))}</p>',
            '<div class="cards">'
            f'<div class="card">students<b>{len(rows)}</b></div>'
            f'<div class="card">mean<b>{statistics.fmean(scores) if scores else 0:.1f}/{top}</b></div>'
            f'<div class="card">median<b>{statistics.median(scores) if scores else 0:g}</b></div>'
            f'<div class="card">mean %<b>{statistics.fmean(pcts) if pcts else 0:.0f}%</b></div>'
            f'<div class="card">full marks<b>{full}</b></div>'
            f'<div class="card">not graded in full<b class="{"err" if errors else ""}">{errors}</b></div>'
            + (f'<div class="card">grader failures<b class="err">{spoiled}</b></div>' if spoiled else "")
            + "</div>",
            "<h2>Score distribution</h2>", histogram_svg(results)]
    rates = pass_rates(columns, results)
    body.append("<h2>Checks: how many passed</h2>")
    missed = [r for r in rates if r["ran"]]
    if missed:
        worst = min(missed, key=lambda r: r["rate"])
        body.append(f'<p>Most missed: <b>{escape(worst["name"])}</b> ({worst["rate"]:.0f}% passed).</p>')
    body.append('<table id="pass-rates"><thead><tr><th class="num">#</th><th>check</th><th>passed</th>'
                '<th class="num">students</th></tr></thead><tbody>')
    for i, r in enumerate(rates, 1):
        kind = "good" if r["rate"] >= 80 else "mid" if r["rate"] >= 50 else "bad"
        badge = '<span class="badge">hidden</span>' if r["hidden"] else ""
        body.append(f'<tr><td class="num">{i}</td><td title="{escape(r["id"])}">{escape(r["name"])}{badge}</td>'
                    f'<td><span class="rate"><i class="{kind}" style="width:{r["rate"]:.1f}%"></i></span> '
                    f'{r["rate"]:.0f}%</td><td class="num">{r["passed"]}/{r["ran"]}</td></tr>')
    body.append("</tbody></table>")
    body.append("<h2>Students</h2><p class=\"sub\">Click a column to sort; a student's name opens "
                "everything the grader saw.</p>")
    head = "".join(f'<th class="num" title="{escape(name)}">{i}</th>' for i, (_, name) in enumerate(columns, 1))
    body.append(f'<table id="students" class="sortable"><thead><tr><th>student</th><th class="num">score</th>'
                f'<th class="num">%</th>{head}<th>not graded in full</th></tr></thead><tbody>')
    for student, key, data in rows:
        by_id = {c["id"]: c for c in data.get("checks", [])}
        cells = []
        for cid, _ in columns:
            c = by_id.get(cid)
            if c is None:
                cells.append('<td class="c" data-v="-1"></td>')
                continue
            tip = c.get("message") or c["status"].replace("_", " ")
            cells.append(f'<td class="c {c["status"]}" data-v="{c["score"]}" title="{escape(tip)}">'
                         f'{MARK.get(c["status"], "?")}</td>')
        pct = _pct(data.get("score", 0), data.get("max_score", 0))
        note = (" the grader itself failed here, not the student: run the same command again"
                if grader_failed(data) else "")
        body.append(f'<tr><td><a href="reports/{escape(key)}.html">{escape(student)}</a></td>'
                    f'<td class="num" data-v="{data.get("score", 0)}">{data.get("score", 0)}/'
                    f'{data.get("max_score", 0)}</td><td class="num" data-v="{pct:.1f}">{pct:.0f}%</td>'
                    f'{"".join(cells)}<td class="err">{escape(data.get("error") or "")}{note}</td></tr>')
    body.append("</tbody></table>")
    return _page(f"{kata.id} · class summary", "\n".join(body), SORT_JS)


def write_html(out: Path, kata: Kata, rows: list[tuple[str, str, dict]], info: dict) -> Path:
    reports = out / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    for student, key, data in rows:
        page = reports / f"{key}.html"
        page.write_text(student_page(kata, student, data, page, out), encoding="utf-8")
    index = out / "index.html"
    tmp = out / ".index.html.tmp"
    tmp.write_text(summary_page(kata, rows, info), encoding="utf-8")
    tmp.replace(index)
    return index
