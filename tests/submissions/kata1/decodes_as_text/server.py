"""BROKEN ON PURPOSE: it decodes what it receives as UTF-8 (errors replaced) and echoes the text, so bytes that are not UTF-8 come back changed.
kata1: a TCP echo server, one client at a time.

Your server is a very polite parrot. A client connects, sends bytes, and gets
every byte back, unchanged and in order. When the client says it is done
(its end of the stream), the parrot finishes repeating and hangs up politely
(a FIN, never a RST). Then it waits for the next client.

Run it:   python server.py --host 127.0.0.1 --port 9000
Grade it: grader check kata1
"""

import argparse
import socket
import signal
import sys


def parse_args():
    parser = argparse.ArgumentParser(description="TCP echo server, one client at a time")
    parser.add_argument("--host", required=True, help="literal address to listen on: 127.0.0.1, ::1, ...")
    parser.add_argument("--port", required=True, type=int, help="TCP port to listen on")
    return parser.parse_args()


def echo(conn):
    """Echo until the client's end of stream; a client that vanishes is not our problem."""
    try:
        while True:
            # recv returns whatever has arrived, maybe a fraction of what was
            # sent: never assume one call holds a whole message.
            data = conn.recv(65536)
            if not data:
                return
            # send may write only part of its buffer; sendall loops for us.
            text = data.decode("utf-8", errors="replace")
            conn.sendall(text.encode("utf-8"))
    except (ConnectionResetError, BrokenPipeError):
        pass


def serve(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        # Without this, a restart while old connections sit in TIME_WAIT fails
        # with EADDRINUSE.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen()
        while True:
            conn, _peer = listener.accept()
            # The connected socket is a new descriptor; closing it leaves the
            # listener untouched, ready for the next client.
            with conn:
                echo(conn)


def main():
    args = parse_args()
    # The grader stops your server with SIGTERM; exit quietly when it does.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
