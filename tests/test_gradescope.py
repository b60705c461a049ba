"""``grader gradescope``: the bundle is what Gradescope expects, and its
``run_autograder``, run against a temporary folder laid out as Gradescope
lays out /autograder (nothing installed: the bundle's setup.sh is only read),
writes a valid results.json, also when the grading is cut short."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from classgen import HANG, SOLUTION
from conftest import ROOT, SUBMISSIONS
from test_batch import marked_processes

EXAMPLE_CHECKS = ROOT / "examples" / "instructor_checks"
STATUSES = {"passed", "failed"}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def validate(results: dict) -> None:
    """results.json as Gradescope's autograder specification defines it."""
    assert isinstance(results, dict)
    assert isinstance(results["score"], (int, float))
    assert isinstance(results.get("execution_time", 0), (int, float))
    assert isinstance(results.get("output", ""), str)
    assert results.get("output_format", "text") in FORMATS
    assert results.get("stdout_visibility", "hidden") in VISIBILITY
    for test in results["tests"]:
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"], (int, float))
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in STATUSES
        assert isinstance(test["output"], str)
        assert test.get("output_format", "text") in FORMATS
        assert test["visibility"] in VISIBILITY
        assert all(isinstance(t, str) for t in test.get("tags", []))
    assert results["score"] == sum(t["score"] for t in results["tests"])


@pytest.fixture
def autograder(tmp_path):
    """A bundle for kata1 with the instructor checks example, unpacked as
    Gradescope unpacks it; returns a function that runs it on a submission."""
    bundle = tmp_path / "autograder.zip"
    done = subprocess.run([sys.executable, "-m", "grader", "gradescope", "kata1", "--checks", str(EXAMPLE_CHECKS),
                           "-o", str(bundle)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
        for info in zf.infolist():  # zipfile drops the mode bits; Gradescope keeps them
            mode = info.external_attr >> 16
            if mode:
                os.chmod(root / "source" / info.filename, mode & 0o777)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")

    def run(files: dict[str, str], *, budget: float | None = None, wait: bool = True):
        submission = root / "submission"
        shutil.rmtree(submission, ignore_errors=True)
        shutil.rmtree(root / "results", ignore_errors=True)
        for name, text in files.items():
            (submission / name).parent.mkdir(parents=True, exist_ok=True)
            (submission / name).write_text(text)
        mark = f"test-{uuid.uuid4().hex[:12]}"
        env = {**os.environ, "AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": sys.executable,
               "SOCKET_KATAS_RUN": mark}
        if budget is not None:
            env["GRADER_GRADESCOPE_BUDGET"] = str(budget)
        proc = subprocess.Popen([str(root / "run_autograder")], cwd=root, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        if not wait:
            return proc, root / "results" / "results.json", mark
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out[-3000:]
        assert not marked_processes(mark), marked_processes(mark)
        results = json.loads((root / "results" / "results.json").read_text())
        validate(results)
        return results

    run.root = root
    run.bundle = bundle
    return run


def test_the_bundle_has_what_gradescope_runs(autograder):
    with zipfile.ZipFile(autograder.bundle) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
    assert {"setup.sh", "run_autograder", "socket-katas.json"} <= names
    for script in ("setup.sh", "run_autograder"):
        assert modes[script] & stat.S_IXUSR
        subprocess.run(["bash", "-n", str(autograder.root / "source" / script)], check=True)
    assert {"socket-katas/pyproject.toml", "socket-katas/grader/cli.py", "socket-katas/katas/course.toml",
            "socket-katas/katas/kata1/server.py", "instructor_checks/0/instructor_pipelining.py"} <= names
    assert not any(n.startswith("socket-katas/solutions") or "__pycache__" in n for n in names)
    setup = (autograder.root / "source" / "setup.sh").read_text()
    assert "apt-get install" in setup and 'pip" install -e "$SOURCE/socket-katas"' in setup
    config = json.loads((autograder.root / "source" / "socket-katas.json").read_text())
    assert config["katas"] == ["kata1"] and config["checks"] == ["instructor_checks/0"]


@pytest.mark.slow
def test_results_json_says_what_each_check_found(autograder):
    broken = (SUBMISSIONS / "kata1" / "no_reuseaddr" / "server.py").read_text()
    results = autograder({"server.py": broken})
    tests = {t["extra_data"]["check"]: t for t in results["tests"]}
    assert len(tests) == 12 + 2
    lost = tests["restarts_on_same_port_at_once"]
    assert lost["status"] == "failed" and lost["score"] == 0 and lost["max_score"] == 1
    assert "EADDRINUSE" in lost["output"] and "\nhint: " in lost["output"]
    assert tests["echoes_binary_exactly"]["status"] == "passed"
    assert tests["echoes_pipelined_lines"]["max_score"] == 2
    hidden = tests["echoes_many_tiny_writes"]
    assert hidden["visibility"] == "after_due_date" and hidden["max_score"] == 3
    assert all(t["visibility"] == "visible" for c, t in tests.items() if c != "echoes_many_tiny_writes")
    assert results["score"] == 12 + 2 + 3 - 1
    assert "kata1" in results["output"] and f"{results['score']}/17" in results["output"]


def test_a_submission_without_the_program_still_gets_valid_results(autograder):
    results = autograder({"notes.txt": "I ran out of time"})
    assert results["score"] == 0
    assert len(results["tests"]) == 12
    assert all("no server.py in your submission" in t["output"] for t in results["tests"])


def test_the_program_is_found_in_a_folder(autograder):
    results = autograder({"my-work/kata1/server.py": SOLUTION.read_text()})
    assert results["score"] == 17, [t["output"] for t in results["tests"] if t["status"] == "failed"]


@pytest.mark.slow
def test_a_grading_cut_short_still_gives_valid_results(autograder):
    # The budget runs out while the hanging server is being graded.
    started = time.monotonic()
    results = autograder({"server.py": HANG}, budget=25)
    assert time.monotonic() - started < 60
    assert "limit" in results["output"]
    assert any(t["output"].startswith("not graded") for t in results["tests"])
    assert len(results["tests"]) >= 12


@pytest.mark.slow
def test_results_are_valid_at_every_moment(autograder):
    # Killed from outside (Gradescope's own timeout) after the first checks:
    # the file written so far is valid and says which checks were not graded.
    proc, path, mark = autograder({"server.py": HANG}, wait=False)
    deadline = time.monotonic() + 90
    finished = 0
    while time.monotonic() < deadline:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = None
        if data:
            validate(data)
            finished = sum(1 for t in data["tests"] if not t["output"].startswith("not graded"))
            if finished >= 2:
                break
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    # The grader's own process (its own session) would run on: stop it as
    # Gradescope's container teardown would.
    for line in marked_processes(mark):
        try:
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
        except OSError:
            pass
    assert finished >= 2
    data = json.loads(path.read_text())
    validate(data)
    assert any(t["output"].startswith("not graded yet") for t in data["tests"])
