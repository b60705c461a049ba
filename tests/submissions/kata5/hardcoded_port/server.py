"""BROKEN ON PURPOSE: It listens on port 9000, the port it was tested on by hand, whatever --port says: nothing listens where the grader looks.

kata5: a TCP echo server, one process per connection (fork).

The old telephone exchange hired a new operator for every caller: whoever
rang got someone all to themselves, and the switchboard went back to waiting
for the next ring at once. Here the switchboard is the parent process, the
operator is a child made with fork(), and every byte a caller says is said
back to them.

Run it:   python server.py --host 127.0.0.1 --port 20005
Grade it: grader check kata5
"""

import argparse
import os
import signal
import socket
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="TCP echo server: one child process per connection (fork)."
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


def echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)


def reap_children(signum, frame) -> None:
    # Signals do not queue: one SIGCHLD may stand for many dead children,
    # so collect every one that is ready, not just one.
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def stop(signum, frame) -> None:
    sys.exit(0)


def serve_child(listener: socket.socket, conn: socket.socket) -> None:
    """Runs in the child: serve one client, then leave without returning to the caller."""
    try:
        # The child's handlers are the parent's until changed: it has no children
        # to reap, and SIGTERM should simply end it.
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # The child got a copy of every descriptor. Keeping the listener would let
        # this process accept connections it will never serve.
        listener.close()
        with conn:
            echo(conn)
    except OSError:
        pass  # the client reset or vanished: nothing left to do for it
    finally:
        # os._exit, not sys.exit: never unwind back into the parent's accept loop.
        os._exit(0)


def serve(host: str, port: int) -> None:
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGCHLD, reap_children)
    with make_listener(host, port) as listener:
        while True:
            # A SIGCHLD arriving here interrupts accept(); Python runs the handler
            # and retries the call (PEP 475), so children are reaped at once.
            conn, _addr = listener.accept()
            try:
                pid = os.fork()
            except OSError:
                conn.close()  # out of processes: turn this client away, keep serving
                continue
            if pid == 0:
                serve_child(listener, conn)
            # The child owns the connection now. If the parent kept its copy, the
            # client would never see FIN when the child closes, and descriptors
            # would pile up here.
            conn.close()


def main() -> None:
    args = parse_args()
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
