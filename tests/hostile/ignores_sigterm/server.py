"""HOSTILE: serves correctly but ignores SIGTERM, SIGHUP and SIGINT."""

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
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    serve(a.host, a.port)
