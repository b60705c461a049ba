"""Hostile submissions (tests/hostile/NAME/server.py, kata1 programs): whatever
a program does, the grader finishes in bounded time, with the verdict the
program deserves in one clear line, leaves no process, cgroup or work folder
behind, and keeps its own files out of the program's reach — as root (the
program then runs as an unprivileged uid of its own) and as an ordinary user.

Each case runs the grader as a user would (a subprocess, JSON report) and
proves afterwards that no process carrying the run's mark survived
(conftest.survivors), that the grader's cgroups are gone, and that nothing in
the grader's package or the course was changed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT, survivors

HOSTILE = ROOT / "tests" / "hostile"
PROTECTED = (ROOT / "grader", ROOT / "katas")
NOBODY = 65534
RUN_TIMEOUT = 120


# -- running the grader ------------------------------------------------------

@dataclass
class Run:
    returncode: int
    report: dict
    stderr: str
    seconds: float
    pid: int

    def check(self, cid: str) -> dict:
        return next(c for c in self.report["checks"] if c["id"] == cid)

    @property
    def full_marks(self) -> bool:
        return self.report["score"] == self.report["max_score"] > 0 and self.returncode == 0


def _grader_leftovers(pid: int) -> list[str]:
    """This grading run's cgroups (named after the grader's pid), if any remain."""
    found = []
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        if root.count("/") > 7:
            dirs[:] = []
            continue
        found += [os.path.join(root, d) for d in dirs if d == f"socket-katas-{pid}"]
    return found


def grade(case: str | Path, *extra: str, env: dict | None = None, argv_prefix=(), python=None,
          signal_when_running: int | None = None) -> Run:
    """Grade a kata1 submission and check that nothing outlived the grader."""
    mark = f"hostile-{uuid.uuid4().hex[:12]}"
    folder = case if isinstance(case, Path) else HOSTILE / case
    full_env = {**os.environ, "SOCKET_KATAS_RUN": mark, **(env or {})}
    argv = [*argv_prefix, python or sys.executable, "-m", "grader", "check", "kata1",
            "--submission", str(folder), "--format", "json", *extra]
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=full_env, cwd=ROOT, stdin=subprocess.DEVNULL)
    if signal_when_running is not None:
        # Wait (with a deadline) until the learner's program runs, then stop the grader.
        end = time.monotonic() + 30
        while time.monotonic() < end and proc.poll() is None and \
                not [s for s in survivors(mark) if not s.startswith(f"{proc.pid}:")]:
            time.sleep(0.02)
        proc.send_signal(signal_when_running)
    try:
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the grader did not finish within {RUN_TIMEOUT} s")
    seconds = time.monotonic() - start
    left = survivors(mark)
    assert not left, f"processes outlived the grader: {left}"
    assert not _grader_leftovers(proc.pid), "the grader left its cgroups behind"
    try:
        report = json.loads(out)
    except ValueError:
        pytest.fail(f"the report is not valid JSON (exit {proc.returncode}): {out[-500:]!r} {err[-1000:]}")
    return Run(proc.returncode, report, err, seconds, proc.pid)


def _fingerprint() -> dict[str, tuple]:
    """Every file of the grader's package and of the course: owner, mode, content."""
    files = {}
    for base in PROTECTED:
        for path in base.rglob("*"):
            if "__pycache__" in path.parts:
                continue
            st = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
            files[str(path)] = (st.st_uid, oct(st.st_mode), digest)
    return files


def _tampered(before: dict, after: dict) -> list[str]:
    """Changes only a hostile program would make. (Other people may edit the
    project while the tests run: an ordinary edit is not tampering.)"""
    bad = [p for p in set(after) - set(before) if "hacked" in Path(p).name.lower()]
    for path, (uid, mode, digest) in after.items():
        if path not in before:
            continue
        old_uid, old_mode, _ = before[path]
        if uid != old_uid or mode != old_mode:
            bad.append(f"{path}: owner/mode {old_uid}/{old_mode} -> {uid}/{mode}")
        elif digest != before[path][2] and Path(path).is_file():
            content = Path(path).read_bytes()
            if b"HACKED" in content or not content:
                bad.append(f"{path}: content changed by the program")
    bad += [f"{p}: removed" for p in set(before) - set(after) if Path(p + ".hacked").exists()]
    return bad


# -- as root (or whoever runs the suite) ---------------------------------------

STOPPED = {
    # case: what the first check's one line says (every other check: "not attempted: " + it)
    "fork_bomb": "was stopped before listening on 127.0.0.1:{port}: the process limit (512, threads "
                 "included) was reached — a fork bomb?",
    "eats_memory": "was stopped before listening on 127.0.0.1:{port}: the memory limit (512 MB) was reached",
    "writes_huge_file": "was stopped before listening on 127.0.0.1:{port}: the file size limit (64 MB) "
                        "was reached",
    "crashes_at_start": "exited with status 1 before listening on 127.0.0.1:{port}: FileNotFoundError: "
                        "[Errno 2] No such file or directory: 'settings.ini'",
    "daemonizes": "exited with status 0 before listening on 127.0.0.1:{port}",
    "never_binds": "never started listening on 127.0.0.1:{port} (TCP) within 10.0 s",
}


def _first_line_is(run: Run, expected: str) -> None:
    first = run.report["checks"][0]
    assert first["id"] == "listens_where_asked" and first["status"] == "failed", first
    port = first["message"].split("127.0.0.1:")[1].split()[0].rstrip(":")
    assert first["message"] == f"your server {expected.format(port=port)}", first["message"]
    for other in run.report["checks"][1:]:
        assert other["status"] == "failed" and other["message"] == "not attempted: " + first["message"], other
    assert run.report["score"] == 0 and run.returncode == 1


@pytest.mark.parametrize("case", sorted(STOPPED))
def test_stopped_with_one_clear_line(case):
    # A fixed stretch keeps "within 10.0 s" (never_binds) exact.
    run = grade(case, env={"GRADER_STRETCH": "1"})
    _first_line_is(run, STOPPED[case])


@pytest.mark.parametrize("case", ["closes_streams", "kills_parent", "kills_everything", "leaves_helper"])
def test_harmless_or_contained_gets_full_marks(case):
    run = grade(case)
    assert run.full_marks, [(c["id"], c["message"]) for c in run.report["checks"] if c["status"] != "passed"]


# Every check starts the program afresh: a program that takes 3 s to start,
# or 1 s to be killed after ignoring SIGTERM, is graded on a few of kata1's
# checks (each restarting it), to keep the suite fast.
FEW = ["listens_where_asked", "echoes_binary_exactly", "closes_every_connected_socket",
       "restarts_on_same_port_at_once"]


def test_a_slow_starter_gets_full_marks(tmp_path):
    run = grade("slow_start", env=_course_with(tmp_path, checks=FEW))
    assert run.full_marks, [(c["id"], c["message"]) for c in run.report["checks"] if c["status"] != "passed"]
    assert len(run.report["checks"]) == len(FEW)


def test_flooding_stdout_costs_nothing_and_is_said_once():
    run = grade("floods_stdout")
    assert run.full_marks, [(c["id"], c["message"]) for c in run.report["checks"] if c["status"] != "passed"]
    note = [n for n in run.report["notes"] if "printed" in n]
    assert note and "on stdout in this run; only the last 16 KB of each start were kept" in note[0], \
        run.report["notes"]


def test_ignoring_sigterm_costs_nothing_but_is_said_and_killed(tmp_path):
    run = grade("ignores_sigterm", env=_course_with(tmp_path, checks=FEW))
    assert run.full_marks
    assert any("did not exit within its grace period after SIGTERM" in n for n in run.report["notes"])


def test_the_grader_files_are_out_of_reach(tmp_path):
    submission = tmp_path / "edits_grader_files"
    shutil.copytree(HOSTILE / "edits_grader_files", submission)
    targets = [ROOT / "grader", ROOT / "grader" / "__init__.py", ROOT / "grader" / "runner",
               ROOT / "grader" / "runner" / "sandbox.py", ROOT / "grader" / "checks" / "pytest.ini",
               ROOT / "katas", ROOT / "katas" / "course.toml", ROOT / "katas" / "kata1",
               ROOT / "katas" / "kata1" / "server.py", ROOT / ".grader"]
    (submission / "targets.txt").write_text("".join(f"{t}\n" for t in targets))
    before = _fingerprint()
    try:
        run = grade(submission)
    finally:
        # Run as an ordinary user, the program is that user and may rename
        # the user's own evidence folders (README: what it does not guarantee).
        for renamed in Path("/tmp").glob("socket-katas-*.hacked*"):
            shutil.rmtree(renamed, ignore_errors=True)
    assert run.full_marks, [(c["id"], c["message"]) for c in run.report["checks"] if c["status"] != "passed"]
    assert not _tampered(before, _fingerprint())
    if os.geteuid() == 0:
        # Root's own folder for evidence stays root's, and closed to others.
        st = os.lstat(f"/tmp/socket-katas-{os.geteuid()}")
        assert st.st_uid == 0 and not st.st_mode & 0o022
        # What it planted for other users' runs (they would not use it: not
        # theirs, open to all) is cleared away.
        planted = Path(f"/tmp/socket-katas-{NOBODY}")
        if planted.is_dir() and planted.lstat().st_uid != NOBODY:
            shutil.rmtree(planted, ignore_errors=True)


def _course_with(tmp_path: Path, params: str = "", checks=None) -> dict:
    """A course whose kata1 has its own limits (course.toml params), or only
    some of its checks."""
    import tomllib
    kata = tomllib.loads((ROOT / "katas" / "course.toml").read_text())["kata1"]
    lines = ["[kata1]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in kata.items() if not isinstance(v, dict)]
    lines += ["[kata1.checks]"] + [f"{k} = {v}" for k, v in kata["checks"].items() if not checks or k in checks]
    lines += ["[kata1.params]"] + [f"{k} = {json.dumps(v)}" for k, v in kata.get("params", {}).items()]
    lines.append(params)
    (tmp_path / "katas" / "kata1").mkdir(parents=True)
    shutil.copy(ROOT / "katas" / "kata1" / "server.py", tmp_path / "katas" / "kata1")
    (tmp_path / "katas" / "course.toml").write_text("\n".join(lines) + "\n")
    return {"GRADER_COURSE": str(tmp_path), "GRADER_STRETCH": "1"}


@pytest.mark.parametrize("case, params, expected", [
    ("fork_bomb", "processes = 32", "the process limit (32, threads included) was reached — a fork bomb?"),
    ("eats_memory", "memory_mb = 100", "the memory limit (100 MB) was reached"),
    ("burns_cpu", "cpu_seconds = 1", "the CPU time limit (1 s) was reached"),
    ("writes_huge_file", "file_size_mb = 1", "the file size limit (1 MB) was reached"),
])
def test_a_kata_sets_its_own_limits(tmp_path, case, params, expected):
    run = grade(case, env=_course_with(tmp_path, params))
    _first_line_is(run, "was stopped before listening on 127.0.0.1:{port}: " + expected)


def test_a_sigterm_mid_run_still_writes_a_valid_partial_report():
    run = grade("never_binds", signal_when_running=signal.SIGTERM)
    report = run.report
    assert run.returncode == 2
    assert report["error"].startswith("interrupted by SIGTERM after "), report["error"]
    assert len(report["checks"]) == 12
    assert all(c["status"] != "passed" for c in report["checks"])
    assert any(c["message"].startswith("not reached: interrupted by SIGTERM") for c in report["checks"])
    assert run.seconds < 30


def test_a_check_that_hangs_is_stopped_at_its_time(tmp_path):
    # A check written without a deadline, against a server that never answers.
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "hangs.py").write_text(
        "import socket\n"
        "from grader.engine.check import check\n\n"
        "@check('waits for an answer without a deadline', hint='none', points=1, timeout=1.0)\n"
        "def test_waits_forever(server):\n"
        "    with socket.create_connection(server.address) as s:\n"
        "        s.sendall(b'hello\\n')\n"
        "        s.recv(1)\n")
    run = grade("never_answers", "--checks", str(checks), env=_course_with(tmp_path / "course", checks=FEW[:1]))
    hung = run.check("waits_forever")
    assert hung["status"] == "failed", hung
    assert hung["message"] == "the check did not finish within 1 s (1 s × 1): the program stopped answering"
    assert run.seconds < 30


def test_a_crashing_check_still_gives_a_valid_report(tmp_path):
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "crash.py").write_text(
        "from grader.engine.check import check\n\n"
        "@check('a check that crashes', hint='none', points=1)\n"
        "def test_crashes(server):\n"
        "    raise ZeroDivisionError('the check itself is broken')\n")
    run = grade(ROOT / "solutions" / "kata1", "--checks", str(checks))
    crashed = run.check("crashes")
    assert crashed["status"] == "failed" and "internal error" in crashed["message"], crashed
    assert all(c["status"] == "passed" for c in run.report["checks"] if c["id"] != "crashes")


def test_a_check_module_that_cannot_load_still_gives_a_valid_report(tmp_path):
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "broken.py").write_text("import this_module_does_not_exist\n")
    run = grade(ROOT / "solutions" / "kata1", "--checks", str(checks))
    assert run.returncode == 2 and run.report["error"], run.report


# -- as an ordinary user -------------------------------------------------------

def _unprivileged_python() -> tuple[list[str], str, dict] | None:
    """(argv prefix, python, env) that runs the grader as uid 65534 here, or
    None. The venv's interpreter may live where that user cannot go (a pyenv
    build in /root): then Debian's /usr/bin/python3 of the same version with
    the venv's packages on its path."""
    if os.geteuid() != 0:
        return [], sys.executable, {}
    if shutil.which("setpriv") is None:
        return None
    prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    site = [p for p in sys.path if p.endswith("site-packages")]
    candidates = [(sys.executable, {"PYTHONPATH": str(ROOT)})]
    if Path("/usr/bin/python3").exists():
        candidates.append(("/usr/bin/python3", {"PYTHONPATH": os.pathsep.join([str(ROOT), *site])}))
    for python, env in candidates:
        env = {**env, "PYTHONDONTWRITEBYTECODE": "1", "HOME": "/tmp"}
        # The grader starts its own interpreter again (sys.executable): that must work too.
        probe = subprocess.run([*prefix, python, "-c", "import subprocess, sys, grader, psutil, pytest, scapy, "
                                "pexpect, rich; subprocess.run([sys.executable, '-c', ''], check=True); "
                                "print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True, cwd="/", env={**os.environ, **env})
        if probe.returncode == 0 and probe.stdout.strip() == "%d.%d" % sys.version_info[:2]:
            return prefix, python, env
    return None


UNPRIVILEGED = _unprivileged_python()
needs_unprivileged = pytest.mark.skipif(
    UNPRIVILEGED is None, reason="no Python here that uid 65534 can run the grader with (setpriv missing, or "
                                 "neither the venv's interpreter nor /usr/bin/python3 of the same version with "
                                 "the venv's packages is readable by that user)")


def _grade_unprivileged(case, env=None, **kwargs) -> Run:
    prefix, python, base_env = UNPRIVILEGED
    return grade(case, env={**base_env, **(env or {})}, argv_prefix=prefix, python=python, **kwargs)


@needs_unprivileged
def test_unprivileged_reference_solution_gets_full_marks():
    run = _grade_unprivileged(ROOT / "solutions" / "kata1")
    assert run.full_marks, run.report


@needs_unprivileged
@pytest.mark.parametrize("case", ["fork_bomb", "eats_memory", "daemonizes"])
def test_unprivileged_stopped_with_one_clear_line(case):
    run = _grade_unprivileged(case, env={"GRADER_STRETCH": "1"})
    _first_line_is(run, STOPPED[case])


@needs_unprivileged
@pytest.mark.parametrize("case", ["kills_parent", "kills_everything", "leaves_helper"])
def test_unprivileged_grader_survives_and_contains(case):
    # The program runs as the same user as the grader here: only the PID
    # namespace keeps it from signalling the grader.
    run = _grade_unprivileged(case)
    assert run.full_marks, [(c["id"], c["message"]) for c in run.report["checks"] if c["status"] != "passed"]


# -- as root in a default Docker container (Gradescope) ---------------------------

# What Docker's defaults take away: no namespaces (CAP_SYS_ADMIN), no network
# administration, no reading another user's /proc entries (CAP_SYS_PTRACE), no
# real-time priority or resource overrides, and cgroups mounted read-only
# (GRADER_CGROUPS=0 stands in for that).
DOCKER = ["setpriv", "--bounding-set=-sys_admin,-net_admin,-sys_ptrace,-sys_nice,-sys_resource",
          "--inh-caps=-sys_admin,-net_admin,-sys_ptrace,-sys_nice,-sys_resource"]
needs_docker_like = pytest.mark.skipif(
    os.geteuid() != 0 or UNPRIVILEGED is None,
    reason="needs root (to give up capabilities) and a grader Python readable by all users")


def _grade_docker_like(case, env=None) -> Run:
    _, python, base_env = UNPRIVILEGED
    return grade(case, env={**base_env, "GRADER_CGROUPS": "0", **(env or {})}, argv_prefix=DOCKER,
                 python=python)


@needs_docker_like
def test_docker_like_reference_solution_gets_full_marks():
    run = _grade_docker_like(ROOT / "solutions" / "kata1")
    assert run.full_marks, [(c["id"], c["message"]) for c in run.report["checks"] if c["status"] != "passed"]
    assert any("no private network namespace" in n for n in run.report["notes"]), run.report["notes"]
    assert not any("run as root" in n for n in run.report["notes"]), run.report["notes"]


@needs_docker_like
@pytest.mark.parametrize("case", ["fork_bomb", "eats_memory"])
def test_docker_like_stopped_with_one_clear_line(case):
    run = _grade_docker_like(case, env={"GRADER_STRETCH": "1"})
    _first_line_is(run, STOPPED[case])


@needs_docker_like
@pytest.mark.parametrize("case", ["leaves_helper", "kills_parent"])
def test_docker_like_contains(case):
    run = _grade_docker_like(case)
    assert run.full_marks, [(c["id"], c["message"]) for c in run.report["checks"] if c["status"] != "passed"]


# -- the machine afterwards ------------------------------------------------------

def test_machine_is_healthy_afterwards():
    """Runs last in this module (pytest keeps file order; with xdist, at least
    after this worker's hostile runs): no learner uid has a process left that
    no live grader owns, and no cgroup of a dead grader remains."""
    from grader.runner import cgroups, identity
    low, high = identity.UID_RANGE
    locks = Path("/run/socket-katas")
    for proc in os.listdir("/proc") if os.geteuid() == 0 else ():   # only root's runs drop to those uids
        if not proc.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{proc}").st_uid
        except OSError:
            continue
        if low <= uid <= high and not _uid_in_use(locks / f"uid-{uid}.lock"):
            pytest.fail(f"process {proc} of learner uid {uid} outlived its grading run")
    for found in _all_grader_cgroups():
        pid = int(found.rsplit("-", 1)[1])
        assert cgroups._alive(pid), f"{found}: the cgroup of a grader that is gone"


def _uid_in_use(lock: Path) -> bool:
    import fcntl
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def _all_grader_cgroups() -> list[str]:
    found = []
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        if root.count("/") > 7:
            dirs[:] = []
            continue
        found += [os.path.join(root, d) for d in dirs if d.startswith("socket-katas-")]
    return found
