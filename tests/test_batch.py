"""``grader grade``: a generated class graded in parallel, every student's
score, the CSV, the HTML summary (rendered in headless Chromium when it is
installed), resuming, interrupting, and nothing left running."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from classgen import EXPECTED, SOLUTION, make_class
from conftest import ROOT

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                None)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions", "--hide-scrollbars",
                  "--mute-audio", "--window-size=1280,2000"]


def marked_processes(prefix: str) -> list[str]:
    """Processes whose SOCKET_KATAS_RUN starts with ``prefix`` (the batch
    derives one mark per grading from the one it was given)."""
    needle = f"SOCKET_KATAS_RUN={prefix}".encode()
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if any(v.startswith(needle) for v in f.read().split(b"\0")):
                    with open(f"/proc/{pid}/cmdline", "rb") as c:
                        cmdline = c.read().replace(b"\0", b" ").decode(errors="replace")
                    found.append(f"{pid}: {cmdline}")
        except OSError:
            continue
    return found


def grade(*args: str, mark: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "SOCKET_KATAS_RUN": mark}
    done = subprocess.run([sys.executable, "-m", "grader", "grade", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, stdin=subprocess.DEVNULL, cwd=ROOT)
    assert not marked_processes(mark), f"left running: {marked_processes(mark)}"
    return done


def results(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (out / "results").glob("*.json")}


def render(page: Path, tmp: Path) -> str:
    """The DOM of ``page`` after Chromium laid it out, with a probe that
    writes what it measured (the chart's bars, the table's rows) into the
    DOM, so that 'renders' means 'has a size on screen', not 'is in the file'."""
    probe = """<script>window.addEventListener('load', function () {
      var svg = document.getElementById('score-chart').getBoundingClientRect();
      var bars = Array.from(document.querySelectorAll('#score-chart rect.bar'))
        .filter(function (r) { return r.getBoundingClientRect().height > 0; }).length;
      var rows = Array.from(document.querySelectorAll('#students tbody tr'))
        .filter(function (r) { return r.getBoundingClientRect().height > 0; }).length;
      var rates = document.querySelectorAll('#pass-rates tbody tr').length;
      var out = document.createElement('pre'); out.id = 'probe';
      out.textContent = 'svg=' + Math.round(svg.width) + 'x' + Math.round(svg.height) +
                        ' bars=' + bars + ' rows=' + rows + ' rates=' + rates;
      document.body.appendChild(out);
    });</script>"""
    probed = page.with_name("probed-" + page.name)
    probed.write_text(page.read_text().replace("</body>", probe + "</body>"))
    done = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'chromium-profile'}",
                           "--virtual-time-budget=3000", "--dump-dom", probed.as_uri()],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    shot = tmp / "summary.png"
    subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'chromium-profile'}",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120,
                   stdin=subprocess.DEVNULL)
    assert shot.is_file() and shot.stat().st_size > 20_000, "the screenshot is missing or blank"
    probed.unlink()
    return done.stdout


def check_rendering(index: Path, tmp: Path, students: int, nonzero_bins: int) -> None:
    dom = render(index, tmp)
    found = re.search(r"svg=(\d+)x(\d+) bars=(\d+) rows=(\d+) rates=(\d+)", dom)
    assert found, dom[-2000:]
    width, height, bars, rows, rates = map(int, found.groups())
    assert width > 300 and height > 100
    assert bars == nonzero_bins
    assert rows == students
    assert rates > 0


def _grader_changed(before: dict, after: dict) -> bool:
    """True when the grader's own code changed between two runs (only while
    someone edits it): then everything is rightly graded again."""
    if before["grader"] == after["grader"]:
        return False
    assert after["graded_now"] == sorted(EXPECTED) and after["reused"] == 0
    return True


@pytest.mark.slow
def test_a_class_is_graded_in_parallel_and_resumed(tmp_path):
    klass = make_class(tmp_path / "class")
    out = tmp_path / "out"
    mark = f"test-{uuid.uuid4().hex[:12]}"
    started = time.monotonic()
    run = grade("kata1", str(klass), "-o", str(out), "--jobs", "2", "--timeout", "20", mark=mark)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr + run.stdout
    elapsed = time.monotonic() - started

    # Every student's score; the misbehaving ones cost their owner, not the run.
    got = results(out)
    assert set(got) == set(EXPECTED)
    for student, expected in EXPECTED.items():
        data = got[student]
        assert len(data["checks"]) == 12, student
        if expected is not None:
            assert data["score"] == expected, (student, [(c["id"], c["message"]) for c in data["checks"]])
        assert data["max_score"] == 12, student
        assert data["grading"]["student"] == student
    hang = got["grace"]
    assert "20 s limit" in hang["error"]
    assert hang["score"] <= 3
    assert any(c["message"].startswith("not graded") for c in hang["checks"])
    assert "missing file" in got["judy"]["error"]
    assert got["alice"]["error"] is None
    assert elapsed < 180, f"the class took {elapsed:.0f} s"

    # The CSV: student, score, max, one column per check, error.
    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["student"] for r in rows] == sorted(EXPECTED)
    header = list(rows[0])
    assert header[:3] == ["student", "score", "max_score"] and header[-1] == "error"
    assert len(header) == 3 + 12 + 1
    for r in rows:
        assert int(r["score"]) == got[r["student"]]["score"]
        assert sum(int(r[c]) for c in header[3:-1] if r[c] != "") == int(r["score"])
    by_student = {r["student"]: r for r in rows}
    assert by_student["dave"]["restarts_on_same_port_at_once"] == "0"
    assert "missing file" in by_student["judy"]["error"]

    # The HTML summary: self-contained, a chart, a row and a page per student.
    index = out / "index.html"
    text = index.read_text()
    assert "<svg" in text and "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text
    for student in EXPECTED:
        assert f'href="reports/{student}.html"' in text
        assert (out / "reports" / f"{student}.html").is_file()
    assert "most missed" in text.lower()
    if CHROMIUM:
        scores = {d["score"] for d in got.values()}
        check_rendering(index, tmp_path, students=len(EXPECTED), nonzero_bins=len(scores))

    # Run again: nothing to grade, the results are kept as they were.
    first = json.loads((out / "batch.json").read_text())
    before = {p.name: p.stat().st_mtime_ns for p in (out / "results").iterdir()}
    again = grade("kata1", str(klass), "-o", str(out), "--jobs", "2", "--timeout", "20", mark=mark)
    assert again.returncode == 0, again.stderr[-2000:]
    info = json.loads((out / "batch.json").read_text())
    if _grader_changed(first, info):
        return
    assert info["graded_now"] == [] and info["reused"] == len(EXPECTED)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "results").iterdir()} == before

    # One student hands in again: only that one is graded.
    with open(klass / "bob" / "server.py", "a") as f:
        f.write("\n# resubmitted\n")
    third = grade("kata1", str(klass), "-o", str(out), "--jobs", "2", "--timeout", "20", mark=mark)
    assert third.returncode == 0, third.stderr[-2000:]
    latest = json.loads((out / "batch.json").read_text())
    if _grader_changed(info, latest):
        return
    assert latest["graded_now"] == ["bob"] and latest["reused"] == len(EXPECTED) - 1
    assert results(out)["bob"]["score"] == 12


@pytest.mark.slow
def test_an_interrupted_run_continues_where_it_stopped(tmp_path):
    klass = tmp_path / "class"
    for student in ("ann", "ben", "cat", "dan"):
        (klass / student).mkdir(parents=True)
        shutil.copy(SOLUTION, klass / student / "server.py")
    out = tmp_path / "out"
    mark = f"test-{uuid.uuid4().hex[:12]}"
    proc = subprocess.Popen([sys.executable, "-m", "grader", "grade", "kata1", str(klass), "-o", str(out),
                             "--jobs", "1"], env={**os.environ, "SOCKET_KATAS_RUN": mark}, cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list((out / "results").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-2000:]
    assert "run the same command again" in stderr
    assert not marked_processes(mark), marked_processes(mark)
    first = set(results(out))
    assert 1 <= len(first) < 4
    assert not (out / ".partial").exists()

    graded_with = {r["grading"]["grader"] for r in results(out).values()}
    run = grade("kata1", str(klass), "-o", str(out), "--jobs", "2", mark=mark)
    assert run.returncode == 0, run.stderr[-2000:]
    info = json.loads((out / "batch.json").read_text())
    if graded_with == {info["grader"]}:
        assert set(info["graded_now"]) == {"ann", "ben", "cat", "dan"} - first
        assert info["reused"] == len(first)
    else:  # the grader's code changed in between (someone editing it): all graded again
        assert len(info["graded_now"]) == 4
    assert {k: v["score"] for k, v in results(out).items()} == dict.fromkeys(("ann", "ben", "cat", "dan"), 12)


def test_submissions_are_found_in_folders_and_zips(tmp_path):
    from grader.batch.discover import submissions

    klass = tmp_path / "export"
    (klass / "Zoë Martin" / "katas" / "kata1").mkdir(parents=True)
    (klass / "Zoë Martin" / "katas" / "kata1" / "server.py").write_text("# zoe\n")
    (klass / "ann").mkdir()
    (klass / "ann" / "server.py").write_text("# ann\n")
    (klass / "bob" / "old").mkdir(parents=True)
    (klass / "bob" / "new").mkdir()
    (klass / "bob" / "old" / "server.py").write_text("# bob old\n")
    (klass / "bob" / "new" / "server.py").write_text("# bob new\n")
    (klass / ".DS_Store").write_text("")
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in klass.rglob("*"):
            zf.write(path, Path("export") / path.relative_to(klass))
        with zipfile.ZipFile(tmp_path / "cy.zip", "w") as inner:
            inner.writestr("server.py", "# cy\n")
        zf.write(tmp_path / "cy.zip", "export/cy.zip")
    for source in (klass, archive):
        found = {s.student: s for s in submissions([source], "server.py", "kata1", tmp_path / "unpacked")}
        assert set(found) >= {"Zoë Martin", "ann", "bob"}
        assert found["Zoë Martin"].folder.name == "kata1"
        assert found["Zoë Martin"].key == "Zo_Martin"
        assert found["ann"].folder.name == "ann"
        assert found["bob"].folder is None and "several server.py" in found["bob"].problem
    assert "cy" in found and (found["cy"].folder / "server.py").read_text() == "# cy\n"


def test_a_zip_that_escapes_its_folder_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../escaped/server.py", "print('no')\n")
    mark = f"test-{uuid.uuid4().hex[:12]}"
    run = grade("kata1", str(archive), "-o", str(tmp_path / "out"), mark=mark)
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "refusing" in run.stderr
    assert not (tmp_path.parent / "escaped").exists()


def _synthetic_class() -> list[tuple[str, str, dict]]:
    from grader.course import find_kata
    from grader.report.names import check_names

    kata = find_kata("kata1")
    names = check_names(kata)
    rows = []
    for n, student in enumerate(["<script>alert(1)</script>", "ann", "=cmd|' /C calc'!A0", "bob", "cy"]):
        checks = []
        for i, (cid, points) in enumerate(kata.checks.items()):
            status = "passed" if (i + n) % 3 else "failed"
            checks.append({"id": cid, "name": names[cid], "status": status, "passed": status == "passed",
                           "score": points if status == "passed" else 0, "max_score": points,
                           "message": "" if status == "passed" else "sent <b>hello</b>, got nothing",
                           "hint": "read <i>until</i> EOF", "details": ["grader> b'<tag>'"], "evidence": [],
                           "duration": 0.1, "hidden": cid == "answers_raw_syn"})
        rows.append((student, f"s{n}", {"kata": "kata1", "title": kata.title, "checks": checks, "error": None,
                                        "score": sum(c["score"] for c in checks), "max_score": 12,
                                        "notes": [], "seed": 1, "stretch": 1.0}))
    return rows


def test_the_summary_escapes_what_students_wrote(tmp_path):
    from grader.batch.html import write_html
    from grader.batch.table import write_csv
    from grader.course import find_kata

    kata = find_kata("kata1")
    rows = _synthetic_class()
    index = write_html(tmp_path, kata, rows, {"grader": "test"})
    text = index.read_text() + (tmp_path / "reports" / "s0.html").read_text()
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<b>hello</b>" not in text and "<i>until</i>" not in text
    write_csv(tmp_path / "grades.csv", kata, [(s, d) for s, _, d in rows])
    with open(tmp_path / "grades.csv", newline="") as f:
        names = [r["student"] for r in csv.DictReader(f)]
    assert "'=cmd|' /C calc'!A0" in names


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed here "
                                              "(.ci/run installs Debian's chromium)")
def test_the_summary_renders_in_a_browser(tmp_path):
    from grader.batch.html import histogram, write_html
    from grader.course import find_kata

    rows = _synthetic_class()
    index = write_html(tmp_path, find_kata("kata1"), rows, {"grader": "test"})
    _, counts, _ = histogram([d for _, _, d in rows])
    check_rendering(index, tmp_path, students=len(rows), nonzero_bins=sum(1 for c in counts if c))
