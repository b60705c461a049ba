"""HOSTILE: tries to change the grader (its package, the course, its evidence and results
folders under /tmp), then serves correctly. targets.txt (written by the test) lists
files and folders, one a line."""

import argparse
import os
import signal
import socket
import sys
import threading
import time

def serve(host, port):
    """A correct kata1 echo server: what the hostile part is bolted onto."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen()
        while True:
            conn, _ = listener.accept()
            with conn:
                try:
                    while data := conn.recv(65536):
                        conn.sendall(data)
                except OSError:
                    pass


def args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", required=True, type=int)
    return parser.parse_args()


def attack(path):
    done = []
    tries = [
        ("append", lambda: open(path, "a").write("\nHACKED = True\n")),
        ("truncate", lambda: open(path, "w").close()),
        ("chmod", lambda: os.chmod(path, 0o777)),
        ("create", lambda: open(os.path.join(path, "hacked.py"), "w").write("HACKED = True\n")),
        ("mkdir", lambda: os.mkdir(os.path.join(path, "hacked"))),
        ("rename", lambda: os.rename(path, path + ".hacked")),
        ("unlink", lambda: os.unlink(path)),
    ]
    for what, attempt in tries:
        try:
            attempt()
            done.append(what)
        except (OSError, ValueError):
            pass
    return done


if __name__ == "__main__":
    a = args()
    import glob
    with open("targets.txt") as f:
        targets = [line.strip() for line in f if line.strip()]
    targets += glob.glob("/tmp/socket-katas-*") + glob.glob("/tmp/socket-katas-*/*")
    for path in targets:
        done = attack(path)
        if done:
            print("changed", path, done, file=sys.stderr, flush=True)
    # Plant folders the next grading runs might use for their evidence.
    for uid in (0, 65534):
        try:
            os.makedirs(f"/tmp/socket-katas-{uid}", mode=0o777, exist_ok=True)
        except OSError:
            pass
    serve(a.host, a.port)
