"""``--checks DIR``: an instructor's own checks join the kata's on the same
scorecard; a hidden one counts, but the learner sees only its name and
whether it passed until ``--reveal``."""

from __future__ import annotations

from conftest import ROOT, SUBMISSIONS, run_grader

from grader.report.hidden import HIDDEN_NOTE

EXAMPLE = ROOT / "examples" / "instructor_checks"
BROKEN = SUBMISSIONS / "kata1" / "one_recv_then_close"  # fails the hidden check at its second byte


def test_instructor_checks_join_the_scorecard_with_their_points():
    run = run_grader("check", "kata1", "--solution", "--checks", str(EXAMPLE), "--format", "json")
    assert run.returncode == 0, run.stdout[-2000:]
    checks = {c["id"]: c for c in run.json["checks"]}
    assert checks["echoes_pipelined_lines"]["max_score"] == 2
    assert checks["echoes_many_tiny_writes"]["max_score"] == 3
    assert checks["echoes_many_tiny_writes"]["hidden"] is True
    assert checks["echoes_pipelined_lines"]["hidden"] is False
    assert run.json["score"] == run.json["max_score"] == 12 + 5
    assert list(checks)[-2:] == ["echoes_pipelined_lines", "echoes_many_tiny_writes"]


def test_a_hidden_check_shows_only_its_name_until_revealed():
    args = ("check", "kata1", "--submission", str(BROKEN), "--checks", str(EXAMPLE))
    learner = run_grader(*args, "--format", "json")
    hidden = next(c for c in learner.json["checks"] if c["id"] == "echoes_many_tiny_writes")
    assert hidden["status"] == "failed" and hidden["score"] == 0 and hidden["max_score"] == 3
    assert hidden["message"] == HIDDEN_NOTE and hidden["hint"] == "" and hidden["details"] == []
    assert learner.json["max_score"] == 17  # its points count all the same

    instructor = run_grader(*args, "--format", "json", "--reveal")
    hidden = next(c for c in instructor.json["checks"] if c["id"] == "echoes_many_tiny_writes")
    assert hidden["message"].startswith("write 2 of 200") and hidden["hint"] and hidden["details"]

    text = run_grader(*args)
    assert "echoes 200 one-byte writes, every byte in order (hidden)" in text.stdout
    assert "write 2 of 200" not in text.stdout and "details are shown after the due date" in text.stdout
    revealed = run_grader(*args, "--reveal")
    assert "write 2 of 200" in revealed.stdout


def test_an_instructor_check_cannot_replace_a_course_check(tmp_path):
    (tmp_path / "mine.py").write_text(
        "from grader.engine.check import check, fail\n"
        "@check('my own binary check', hint='none', points=5)\n"
        "def test_echoes_binary_exactly(server):\n"
        "    fail('the instructor version ran')\n")
    run = run_grader("check", "kata1", "--solution", "--checks", str(tmp_path), "--format", "json")
    assert run.returncode == 2
    assert "same name as another check" in run.stderr and "rename it" in run.stderr
    names = {c["id"]: c["name"] for c in run.json["checks"]}
    assert names["echoes_binary_exactly"] != "my own binary check"
