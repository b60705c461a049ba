"""One submission, graded by its own ``grader check`` process.

Rules:
- the grader runs as a subprocess (its own network namespace, its own
  subreaper, its own session) with a wall-clock limit; at the limit it gets
  SIGTERM (it unwinds and stops the learner's programs), then SIGKILL for
  its whole tree;
- every process of that grading carries its own mark (SOCKET_KATAS_RUN) in
  its environment, and whatever still carries it afterwards is killed; the
  batch process is a subreaper too, so the children of a killed grader come
  back to it and are killed as well;
- whatever happens, the outcome is a valid result (the JSON of ``grader
  check``): a submission that crashes, hangs, forks or floods loses points,
  the run goes on. A stopped grading keeps the checks that finished (from
  ``--progress-file``); the checks it never reached are failed with the
  reason."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from grader.batch.discover import Submission
from grader.batch.store import GRADER_DIED
from grader.course import Kata
from grader.report.names import check_names
from grader.runner import reaper
from grader.runner.launch import RUN_MARK

STDOUT_CAP = 50 * 1024 * 1024
TERM_GRACE = 5.0
# Spawning a grader and owning its pid happen under this lock, and so does
# killing orphans: an orphan is a child the batch did not start itself.
_spawn_lock = threading.Lock()


@dataclass
class Job:
    kata: Kata
    sub: Submission
    out: Path
    timeout: float
    mark: str
    checks: list[Path] = field(default_factory=list)
    seed: int | None = None
    no_isolation: bool = False

    @property
    def evidence(self) -> Path:
        return self.out / "evidence" / self.sub.key

    @property
    def partial(self) -> Path:
        return self.out / ".partial" / f"{self.sub.key}.json"

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "grader", "check", self.kata.id, "--submission", str(self.sub.folder),
                "--format", "json", "--reveal", "--progress-file", str(self.partial),
                "--evidence", str(self.evidence)]
        if self.seed is not None:
            argv += ["--seed", str(self.seed)]
        for folder in self.checks:
            argv += ["--checks", str(folder)]
        if self.no_isolation:
            argv.append("--no-isolation")
        return argv


def marked(mark: str, prefix: bool = False) -> list[int]:
    """Pids whose environment carries ``SOCKET_KATAS_RUN=mark`` (or a mark
    starting with ``mark`` when ``prefix``)."""
    needle = f"{RUN_MARK}={mark}".encode()
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if any(v == needle or (prefix and v.startswith(needle)) for v in env):
            found.append(int(pid))
    return found


def kill_leftovers(mark: str, prefix: bool = False) -> int:
    """Kill what a grading left behind; returns how many were found."""
    killed = 0
    with _spawn_lock:
        for _ in range(50):  # a fork loop keeps making more between scans
            pids = marked(mark, prefix) + [p.pid for p in reaper.orphans()]
            if not pids:
                break
            killed += len(pids)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)
            _reap()
    return killed


def _reap() -> None:
    for proc in reaper.orphans():
        try:
            os.waitpid(proc.pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _stop(proc: subprocess.Popen) -> None:
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(TERM_GRACE)
    except subprocess.TimeoutExpired:
        with _spawn_lock:
            reaper.kill_everything(proc.pid, deadline=5.0)
        proc.wait()
    except OSError:
        pass


def _progress(path: Path, seen, on_progress):
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return seen
    if stamp != seen:
        try:
            data = _json(path.read_text())
        except OSError:
            return seen
        if data is not None:
            on_progress(data)
    return stamp


def _read(path: Path) -> str:
    with open(path, "rb") as f:
        return f.read(STDOUT_CAP).decode("utf-8", "replace")


def _json(text: str) -> dict | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) and "checks" in data else None


def complete(kata: Kata, data: dict | None, reason: str) -> dict:
    """A whole result from what there is: the checks that finished keep
    their verdict, every other check of the kata is failed with ``reason``."""
    data = dict(data or {})
    checks = [c for c in data.get("checks", [])]
    seen = {c["id"] for c in checks}
    names = check_names(kata)
    for cid, points in kata.checks.items():
        if cid not in seen:
            checks.append({"id": cid, "name": names[cid], "status": "failed", "passed": False,
                           "score": 0, "max_score": points,
                           "message": reason if reason.startswith("not graded") else f"not graded: {reason}",
                           "hint": "", "details": [], "evidence": [], "duration": 0.0, "hidden": False})
    data.pop("partial", None)
    data.update(kata=kata.id, title=kata.title, checks=checks, error=reason, passed=False,
                score=sum(c["score"] for c in checks),
                max_score=sum(c["max_score"] for c in checks if c["status"] != "not_run"))
    for key, default in (("not_implemented", False), ("stretch", 1.0), ("seed", 0), ("notes", []),
                         ("evidence_dir", None), ("program", "your program")):
        data.setdefault(key, default)
    return data


def grade_submission(job: Job, stop: threading.Event | None = None, on_progress=None) -> dict:
    """The result of one submission (the JSON of ``grader check``, completed
    when the grading did not finish), without the ``grading`` object.
    ``on_progress(partial)`` is called with the checks finished so far each
    time one more finishes."""
    kata, sub = job.kata, job.sub
    if sub.folder is None:
        return complete(kata, None, sub.problem)
    shutil.rmtree(job.evidence, ignore_errors=True)
    job.partial.parent.mkdir(parents=True, exist_ok=True)
    job.partial.unlink(missing_ok=True)
    env = {**os.environ, RUN_MARK: job.mark}
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        out_path, err_path = Path(tmp) / "stdout", Path(tmp) / "stderr"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            with _spawn_lock:
                proc = subprocess.Popen(job.argv(), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                        env=env, start_new_session=True)
                reaper.own(proc.pid)
            deadline = time.monotonic() + job.timeout
            stopped = None
            seen = None
            try:
                while True:
                    try:
                        proc.wait(0.2)
                        break
                    except subprocess.TimeoutExpired:
                        pass
                    if on_progress is not None:
                        seen = _progress(job.partial, seen, on_progress)
                    if time.monotonic() > deadline:
                        stopped = f"grading took longer than the {job.timeout:.0f} s limit and was stopped"
                    elif stop is not None and stop.is_set():
                        stopped = "the batch run was interrupted"
                    if stopped:
                        _stop(proc)
                        break
            finally:
                if proc.poll() is None:
                    _stop(proc)
                reaper.disown(proc.pid)
                kill_leftovers(job.mark)
        stdout, stderr = _read(out_path), _read(err_path)
    data = _json(stdout)
    partial = None
    try:
        partial = _json(job.partial.read_text())
        job.partial.unlink()
    except OSError:
        pass
    if stopped:
        # Only the checks that finished keep their verdict: the progress file
        # has exactly those (a stopped grader may print the others as "not
        # reached", which must not take them out of the maximum).
        base = dict(data or partial or {})
        if partial is not None:
            base["checks"] = partial["checks"]
        else:
            base["checks"] = [c for c in base.get("checks", [])
                              if c["status"] != "not_run" or not c.get("message", "").startswith("not reached")]
        return complete(kata, base, stopped)
    if data is not None:
        return data
    last = next((line for line in reversed(stderr.strip().splitlines()) if line.strip()), "")
    last = last.removeprefix("grader: ")
    if proc.returncode == 2 and last:
        return complete(kata, partial, last)
    how = (f"killed by {signal.Signals(-proc.returncode).name}" if proc.returncode < 0
           else f"exit status {proc.returncode}")
    return complete(kata, partial, f"{GRADER_DIED} ({how})" + (f": {last}" if last else ""))


def stamp(data: dict, job: Job, files: str, grader: str, seconds: float) -> dict:
    data["grading"] = {
        "student": job.sub.student, "key": job.sub.key, "submission": str(job.sub.root),
        "folder": str(job.sub.folder) if job.sub.folder else None,
        "files": files, "grader": grader, "seconds": round(seconds, 2),
        "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return data
