"""HOSTILE: listens and accepts, then never reads nor answers: every client hangs."""

import argparse
import socket
import threading


def args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", required=True, type=int)
    return parser.parse_args()


if __name__ == "__main__":
    a = args()
    family = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((a.host, a.port))
    listener.listen()
    held = []
    while True:
        conn, _ = listener.accept()
        held.append(conn)          # kept open, never read, never answered
