"""HOSTILE: kills its parent (the grader) with SIGKILL, then serves correctly."""

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


def stat_ppid():
    with open("/proc/self/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


if __name__ == "__main__":
    a = args()
    for ppid in {os.getppid(), stat_ppid()}:
        if ppid > 1:                  # 0: no parent in sight (a PID namespace)
            try:
                os.kill(ppid, signal.SIGKILL)
            except OSError:
                pass
    serve(a.host, a.port)
