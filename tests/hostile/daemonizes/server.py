"""HOSTILE: daemonizes (double fork + setsid); the daemon serves after its parent exited 0."""

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


if __name__ == "__main__":
    a = args()
    child = os.fork()
    if child:
        os.waitpid(child, 0)          # the first child exits at once
        sys.exit(0)                   # and so does the program the grader started
    os.setsid()
    if os.fork():
        os._exit(0)
    # The daemon: it listens only once its parent is gone, so no process tree
    # the grader started ever holds the socket.
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.01)
    for fd in (0, 1, 2):
        os.close(fd)
    serve(a.host, a.port)
