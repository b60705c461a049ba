"""BROKEN ON PURPOSE: It listens on port 9000, the port it was tested on by hand, whatever --port says: nothing listens where the grader looks.

kata6: a TCP echo server, one thread per connection.

The exchange found that hiring a whole new operator for every caller was
expensive: each one needed a desk, a chair and a copy of the phone book.
So now every caller gets a thread instead: a new pair of hands in the same
office, sharing the one phone book. Say back every byte the caller says.

Run it:   python server.py --host 127.0.0.1 --port 20006
Grade it: grader check kata6
"""

import argparse
import signal
import socket
import sys
import threading


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="TCP echo server: one thread per connection."
    )
    parser.add_argument(
        "--host",
        required=True,
        help="literal address to listen on: 127.0.0.1, ::1, :: or 0.0.0.0",
    )
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    return parser.parse_args(argv)


def make_listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    # Without it, a restart while old connections sit in TIME_WAIT fails with EADDRINUSE.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 9000))  # the port I tried it on
    listener.listen()
    return listener


def handle(conn: socket.socket) -> None:
    # Threads share one descriptor table: nobody else will close this socket,
    # and the thread must end when its client does, or both leak.
    with conn:
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
        except OSError:
            pass  # the client reset or vanished: only this connection is affected


def stop(signum, frame) -> None:
    sys.exit(0)


def serve(host: str, port: int) -> None:
    # Python runs signal handlers in the main thread only, which is the one
    # blocked in accept(): SIGTERM interrupts it and the handler ends the process.
    signal.signal(signal.SIGTERM, stop)
    with make_listener(host, port) as listener:
        while True:
            conn, _addr = listener.accept()
            # daemon=True: a thread stuck with an idle client must not keep the
            # process alive after SIGTERM.
            worker = threading.Thread(target=handle, args=(conn,), daemon=True)
            try:
                worker.start()
            except RuntimeError:
                conn.close()  # no more threads to be had: turn this client away


def main() -> None:
    args = parse_args()
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
