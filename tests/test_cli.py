"""The grader's command line: clear one-line errors with exit 2, never a
traceback; JSON as KATAS.md defines it."""

import json

from conftest import ROOT, run_grader


def _one_line_error(run, *words):
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    for word in words:
        assert word in lines[0]


def test_unknown_kata_is_one_line_and_exit_2():
    _one_line_error(run_grader("check", "kata99"), "unknown kata", "kata99")


def test_bad_flag_is_one_line_and_exit_2():
    _one_line_error(run_grader("check", "kata1", "--frobnicate"), "--frobnicate")


def test_missing_submission_file_is_exit_2(tmp_path):
    (tmp_path / "notes.txt").write_text("no server here")
    _one_line_error(run_grader("check", "kata1", "--submission", str(tmp_path)), "missing file", "server.py")


def test_missing_submission_folder_is_exit_2(tmp_path):
    _one_line_error(run_grader("check", "kata1", "--submission", str(tmp_path / "nope")), "no such")


def test_no_kata_given_is_exit_2():
    _one_line_error(run_grader("check"), "which kata")


def test_list_shows_every_kata():
    run = run_grader("list")
    assert run.returncode == 0
    import tomllib
    katas = tomllib.loads((ROOT / "katas" / "course.toml").read_text())
    for kata_id in katas:
        assert kata_id in run.stdout


def test_json_report_has_the_contract_fields():
    run = run_grader("check", "kata1", "--solution", "--format", "json")
    data = json.loads(run.stdout)
    for key in ("kata", "score", "max_score", "checks"):
        assert key in data
    for c in data["checks"]:
        assert {"name", "status", "passed", "score", "max_score", "message"} <= set(c)
        assert c["status"] in ("passed", "failed", "not_run")
        assert c["passed"] == (c["status"] == "passed")
    assert run.returncode == 0


def test_cmd_grades_any_program_with_placeholders():
    solution = ROOT / "solutions" / "kata1" / "server.py"
    import sys
    run = run_grader("check", "kata1", "--format", "json",
                     "--cmd", f"{sys.executable} {solution} --port {{port}}")  # --host appended
    assert run.returncode == 0, run.stdout[-2000:]
    assert run.json["score"] == run.json["max_score"] > 0


def test_text_report_names_score_and_seed():
    run = run_grader("check", "kata1", "--solution", "--seed", "42")
    assert run.returncode == 0
    assert "score" in run.stdout and "seed 42" in run.stdout
