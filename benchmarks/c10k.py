"""The C10K story of the course, as numbers you can reproduce.

For each reference solution (kata5 fork, kata6 threads, kata7 select, kata8
epoll) and each N, this starts the server, opens N idle connections with the
grader's own load generator (grader/probes/load.py: one epoll loop, every
client greeted and echoed once), then measures:

- establish  seconds until all N clients were connected and had their first echo
- p50 rtt    median round trip of one more, active client (200 small echoes)
             while the N others sit idle; p99 moves 20-50x between runs, so
             only the median is printed
- pss/conn   the server's proportional set size (its share of memory, shared
             pages split between the processes that map them), loaded minus
             idle, per connection; for fork this sums parent and children
- rss/conn   resident memory, same difference (for fork it counts shared
             pages once per child, which is why PSS is the honest figure)
- fds/conn   descriptors of the whole process tree, loaded minus idle, per
             connection
- tasks      threads and processes of the tree while loaded

It is a benchmark, not a test: pytest does not collect it (testpaths are
``tests``), and its numbers depend on the machine. Run it from the checkout,
as root or not (it uses the host's loopback):

    .venv/bin/python benchmarks/c10k.py                       # every kata, default N
    .venv/bin/python benchmarks/c10k.py --kata kata8 --n 1000,10000

Fork per connection is capped at 1,000 (10,000 Python processes need about
10 GB and did not get there in a minute); select below 1,000 (FD_SETSIZE:
the reference stops accepting at 1,000 clients, before descriptor 1024, and
the round-trip client needs a place too).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.probes import load  # noqa: E402

MODELS = {
    "kata5": ("fork per connection", [100, 1000], 1000),
    "kata6": ("thread per connection", [100, 1000, 10000], 10000),
    "kata7": ("select", [100, 900], 999),
    "kata8": ("epoll", [100, 1000, 10000], 20000),
}
ROUND_TRIPS = 200


def free_port() -> int:
    # Below the ephemeral range (32768-60999): our own clients must not take it.
    import random
    for _ in range(100):
        port = random.randint(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise SystemExit("no free port between 20000 and 32000")


def start(kata: str, port: int) -> subprocess.Popen:
    argv = [sys.executable, str(ROOT / "solutions" / kata / "server.py"), "--host", "127.0.0.1", "--port", str(port)]
    if kata == "kata8":
        # As the grader starts it: soft 1024, so 10,000 clients need the server's own setrlimit.
        hard = min(20000, psutil.Process().rlimit(psutil.RLIMIT_NOFILE)[1])
        argv = ["prlimit", f"--nofile=1024:{hard}", "--", *argv]
    proc = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"ready?\n")
                if s.recv(16):
                    return proc
        except OSError:
            time.sleep(0.05)
    stop(proc)
    raise SystemExit(f"{kata} did not start on port {port}: {proc.stderr.read().decode()[-300:]}")


def stop(proc: subprocess.Popen) -> None:
    # Killed first: closing 10,000 clients of a thread-per-connection server
    # wakes every thread at once and takes half a minute.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def measure_tree(pid: int) -> dict:
    pss = rss = fds = threads = 0
    procs = tree(pid)
    for p in procs:
        try:
            info = p.memory_full_info()
            pss += info.pss
            rss += info.rss
            fds += p.num_fds()
            threads += p.num_threads()
        except psutil.Error:
            continue
    return {"pss": pss, "rss": rss, "fds": fds, "threads": threads, "processes": len(procs)}


def p50_round_trip(port: int) -> float:
    times = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(ROUND_TRIPS):
            message = b"ping %d\n" % i
            start = time.perf_counter()
            s.sendall(message)
            got = b""
            while len(got) < len(message):
                chunk = s.recv(64)
                if not chunk:
                    raise OSError("the server closed the connection")
                got += chunk
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_one(kata: str, n: int) -> dict:
    port = free_port()
    proc = start(kata, port)
    try:
        time.sleep(0.2)
        idle = measure_tree(proc.pid)
        with load.descriptors_for(n), load.Crowd("127.0.0.1", port) as crowd:
            tally = crowd.gather(n, 120.0)
            if not tally.complete:
                return {"kata": kata, "n": n, "error": tally.summary()}
            time.sleep(0.5)            # let threads and children settle before measuring
            loaded = measure_tree(proc.pid)
            rtt = p50_round_trip(port)
            stop(proc)
        return {
            "kata": kata, "n": n, "establish": tally.elapsed, "p50": rtt,
            "pss": (loaded["pss"] - idle["pss"]) / n, "rss": (loaded["rss"] - idle["rss"]) / n,
            "fds": (loaded["fds"] - idle["fds"]) / n, "threads": loaded["threads"],
            "processes": loaded["processes"],
        }
    finally:
        stop(proc)


def human(n: float) -> str:
    for unit in ("B", "KB", "MB"):
        if abs(n) < 1024 or unit == "MB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kata", action="append", choices=sorted(MODELS), help="which katas (default: all)")
    parser.add_argument("--n", help="comma-separated connection counts (default: per kata)")
    args = parser.parse_args(argv)
    katas = args.kata or list(MODELS)
    print(f"{'kata':6} {'model':22} {'N':>7} {'establish':>10} {'p50 rtt':>9} {'pss/conn':>10} {'rss/conn':>10} "
          f"{'fds/conn':>9} {'threads':>8} {'procs':>6}")
    for kata in katas:
        model, default_ns, cap = MODELS[kata]
        ns = [int(x) for x in args.n.split(",")] if args.n else default_ns
        for n in ns:
            if n > cap:
                print(f"{kata:6} {model:22} {n:>7,}  skipped: {model} is capped at {cap:,} here (see the docstring)")
                continue
            row = run_one(kata, n)
            if "error" in row:
                print(f"{kata:6} {model:22} {n:>7,}  failed: {row['error']}")
                continue
            print(f"{kata:6} {model:22} {n:>7,} {row['establish']:>9.2f}s {row['p50'] * 1e3:>7.3f}ms "
                  f"{human(row['pss']):>10} {human(row['rss']):>10} {row['fds']:>9.2f} {row['threads']:>8,} "
                  f"{row['processes']:>6,}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
