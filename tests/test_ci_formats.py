"""What CI systems read: ``--format junit``, and the GitHub Classroom
workflow from ``grader classroom``, whose commands are run here as the
command grader runs them (/bin/sh, PATH and HOME only, exit 0 scores)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from classgen import SOLUTION, STUB
from conftest import ROOT, SUBMISSIONS, run_grader

NOT_RUN_CHECK = '''
from grader.engine.check import check, not_run

@check("answers over IPv7", hint="there is no IPv7", points=1)
def test_answers_over_ipv7(server):
    not_run("this machine has no IPv7")
'''


def _text_lines(check: dict) -> list[str]:
    """The text report's lines for one check, from the same scorecard."""
    from grader.engine.results import CheckResult
    from grader.report.text import TextReporter

    buf = io.StringIO()
    reporter = TextReporter(Console(file=buf, width=10_000, no_color=True, highlight=False))
    reporter.check(CheckResult(**{k: check[k] for k in ("id", "name", "status", "max_score", "message", "hint",
                                                         "details", "evidence", "duration", "hidden")}))
    return [line.strip() for line in buf.getvalue().splitlines()]


def test_junit_has_a_testcase_per_check_with_the_text_reports_words(tmp_path):
    extra = tmp_path / "checks"
    extra.mkdir()
    (extra / "ipv7.py").write_text(NOT_RUN_CHECK)
    broken = SUBMISSIONS / "kata1" / "no_reuseaddr"
    run = run_grader("check", "kata1", "--submission", str(broken), "--checks", str(extra), "--format", "json")
    assert run.returncode == 1, run.stderr
    data = run.json

    from grader.report.junit import junit_xml
    root = ET.fromstring(junit_xml([data]))
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == len(data["checks"]) == 13
    assert suite.get("failures") == "1" and suite.get("skipped") == "1"
    by_name = {c.get("name"): c for c in cases}
    for check in data["checks"]:
        case = by_name[check["name"]]
        assert case.get("classname") == "kata1"
        if check["status"] == "failed":
            message = case.find("failure").get("message")
            lines = _text_lines(check)
            # The failure message is the text report's reason line and hint line, word for word.
            assert message.splitlines() == [lines[1], lines[2]]
            assert message.splitlines()[1].startswith("hint: ")
        elif check["status"] == "not_run":
            assert "no IPv7" in case.find("skipped").get("message")
        else:
            assert case.find("failure") is None and case.find("skipped") is None


def test_junit_from_the_command_line(tmp_path):
    run = run_grader("check", "kata1", "--submission", str(SUBMISSIONS / "kata1" / "no_reuseaddr"),
                     "--format", "junit")
    assert run.returncode == 1
    root = ET.fromstring(run.stdout)
    failures = root.findall(".//failure")
    assert len(failures) == 1 and "EADDRINUSE" in failures[0].get("message")
    assert root.find("testsuite").get("tests") == "12"


# -- GitHub Classroom -------------------------------------------------------------

def _workflow(*katas: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "grader", "classroom", *katas], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_the_workflow_has_one_step_per_kata_with_its_points():
    import tomllib
    course = tomllib.loads((ROOT / "katas" / "course.toml").read_text())
    flow = _workflow()
    job = flow["jobs"]["run-autograding-tests"]  # the name the reporter posts the points to
    graders = [s for s in job["steps"] if "autograding-command-grader" in s.get("uses", "")]
    assert [s["id"] for s in graders] == sorted(course, key=lambda k: (len(k), k))
    for step in graders:
        assert step["with"]["max-score"] == sum(course[step["id"]]["checks"].values())
        assert step["with"]["command"].endswith(f"grader check {step['id']}")
    reporter = job["steps"][-1]
    assert "autograding-grading-reporter" in reporter["uses"]
    assert reporter["with"]["runners"].split(",") == [s["id"] for s in graders]
    for step in graders:
        assert reporter["env"][f"{step['id'].upper()}_RESULTS"] == f"${{{{steps.{step['id']}.outputs.result}}}}"


def _student_repo(tmp_path: Path, program: Path) -> Path:
    """A student's repository as the template makes it: the course and their
    kata1, with a .venv/bin/grader like the install step's (an editable
    install of this checkout, which grades the repository it sits in)."""
    repo = tmp_path / "repo"
    (repo / "katas" / "kata1").mkdir(parents=True)
    shutil.copy(ROOT / "katas" / "course.toml", repo / "katas" / "course.toml")
    shutil.copy(program, repo / "katas" / "kata1" / "server.py")
    (repo / ".venv" / "bin").mkdir(parents=True)
    wrapper = repo / ".venv" / "bin" / "grader"
    wrapper.write_text('#!/bin/sh\nGRADER_COURSE="$(cd "$(dirname "$0")/../.." && pwd)" '
                       f'exec {sys.executable} -m grader "$@"\n')
    wrapper.chmod(0o755)
    return repo


@pytest.mark.parametrize("program, points", [(SOLUTION, 12), (STUB, 0)], ids=["solution", "stub"])
def test_the_workflows_commands_score_a_repository(tmp_path, program, points):
    flow = _workflow("kata1")
    steps = flow["jobs"]["run-autograding-tests"]["steps"]
    install = next(s for s in steps if s.get("name") == "Install the grader")
    assert install["run"] == "python3 -m venv .venv && .venv/bin/pip install -e ."  # the README's, not run here
    repo = _student_repo(tmp_path, program)
    total = 0
    for step in steps:
        if "autograding-command-grader" not in step.get("uses", ""):
            continue
        command = step["with"]["command"]
        # sudo matters on the runner's VM (namespaces, raw sockets); here the
        # tests already run with whatever rights they have.
        command = command.removeprefix("sudo ")
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "FORCE_COLOR": "true"}  # the action's env
        done = subprocess.run(["/bin/sh", "-c", command], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=step["with"]["timeout"] * 60, stdin=subprocess.DEVNULL)
        assert "Traceback" not in done.stdout + done.stderr
        total += step["with"]["max-score"] if done.returncode == 0 else 0
    assert total == points
    assert json.loads((repo / ".grader" / "progress.json").read_text())["kata1"]["score"] == points
