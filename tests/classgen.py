"""A generated class of kata1 submissions for the batch tests: the
reference solution, the stub, broken programs from tests/submissions, and
programs that misbehave towards the grader itself (hang, fork, flood,
crash, a missing file). ``EXPECTED`` is each student's score out of 12
(None: not fixed, see the test)."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "kata1" / "server.py"
STUB = ROOT / "katas" / "kata1" / "server.py"
BROKEN = ROOT / "tests" / "submissions" / "kata1"

# Accepts every client and never answers: each check waits for its deadline.
HANG = '''
import argparse, socket
p = argparse.ArgumentParser(); p.add_argument("--host"); p.add_argument("--port", type=int)
a = p.parse_args()
s = socket.socket(socket.AF_INET6 if ":" in a.host else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((a.host, a.port)); s.listen()
held = []
while True:
    held.append(s.accept()[0])
'''

# A correct server that first leaves a daemon behind (double fork + setsid)
# and a few sleeping children: none of them may outlive the grading.
FORK = '''
import os, time
def _daemon():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            while True:
                time.sleep(1)
        os._exit(0)
_daemon()
for _ in range(5):
    if os.fork() == 0:
        time.sleep(10_000)
        os._exit(0)
'''

# A correct server that writes to stdout and stderr without end.
FLOOD = '''
import sys, threading, time
def _flood():
    line = "x" * 1023 + "\\n"
    while True:  # tens of MB/s, without taking a whole core from the grader
        sys.stdout.write(line * 64); sys.stderr.write(line * 64); time.sleep(0.002)
threading.Thread(target=_flood, daemon=True).start()
'''

CRASH = "import this_module_does_not_exist\n"

EXPECTED = {
    "alice": 12,            # the reference solution
    "bob": 12,              # the reference solution again
    "carol": 0,             # the stub
    "dave": 11,             # no_reuseaddr: fails restarts_on_same_port_at_once
    "erin": 10,             # dies_on_reset: fails the two survives_* checks
    "frank": 0,             # crashes at import
    "grace": None,          # hangs: stopped at the wall-clock limit
    "heidi": 12,            # forks a daemon and sleepers, serves correctly
    "ivan": 12,             # floods stdout/stderr, serves correctly
    "judy": 0,              # no server.py at all
}


def make_class(into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    solution = SOLUTION.read_text()

    def put(student: str, text: str, name: str = "server.py") -> None:
        (into / student).mkdir(exist_ok=True)
        (into / student / name).write_text(text)

    put("alice", solution)
    put("bob", solution)
    put("carol", STUB.read_text())
    shutil.copytree(BROKEN / "no_reuseaddr", into / "dave", ignore=shutil.ignore_patterns("expected.toml"))
    shutil.copytree(BROKEN / "dies_on_reset", into / "erin", ignore=shutil.ignore_patterns("expected.toml"))
    put("frank", CRASH + solution)
    put("grace", HANG)
    put("heidi", FORK + solution)
    put("ivan", FLOOD + solution)
    put("judy", "I did not get to it, sorry.\n", name="notes.txt")
    return into
