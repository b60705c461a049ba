"""BROKEN ON PURPOSE: A thread per connection with blocking sockets instead of one thread with epoll.

kata8: a TCP echo server for ten thousand connections, with epoll (C10K).

The wall of lamps got too big: scanning a thousand lamps to find the two that
are lit took the operator all day. The new switchboard keeps a list of the lit
lamps for her, so each look costs only what is ready, however many lines are
plugged in. Ten thousand callers may hold the line at once; say back every
byte each of them says.

Run it:   python server.py --host 127.0.0.1 --port 20008
Grade it: grader check kata8
"""

import argparse
import resource
import signal
import socket
import sys
import threading


# The kernel clamps this to net.core.somaxconn (4096 on current kernels).
# A burst of thousands of connects must not overflow the accept queue.
BACKLOG = 4096


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


def raise_nofile_limit() -> None:
    # Every connection costs a descriptor, and the soft limit is often 1024.
    # Any process may raise its soft limit up to the hard one.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20  # "unlimited" is still capped by fs.nr_open
    if soft != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass  # keep what we have: fewer connections, but still a server


def make_listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    # Without it, a restart while old connections sit in TIME_WAIT fails with EADDRINUSE.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(BACKLOG)
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
    raise_nofile_limit()
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
