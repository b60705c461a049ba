"""kata8: a TCP echo server for ten thousand connections, with epoll (C10K).

The wall of lamps got too big: scanning a thousand lamps to find the two that
are lit took the operator all day. The new switchboard keeps a list of the lit
lamps for her, so each look costs only what is ready, however many lines are
plugged in. Ten thousand callers may hold the line at once; say back every
byte each of them says.

Run it:   python server.py --host 127.0.0.1 --port 20008
Grade it: grader check kata8
"""

import argparse
import errno
import resource
import select
import signal
import socket
import sys


CHUNK = 65536
# Stop reading from a client once this much of its echo is waiting to go out.
HIGH_WATER = 1 << 20
# The kernel clamps this to net.core.somaxconn (4096 on current kernels).
BACKLOG = 4096


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="TCP echo server: one thread, non-blocking sockets, epoll."
    )
    parser.add_argument(
        "--host",
        required=True,
        help="literal address to listen on: 127.0.0.1, ::1, :: or 0.0.0.0",
    )
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    return parser.parse_args(argv)


def serve(host: str, port: int) -> None:
    # TODO: 1. Raise the soft RLIMIT_NOFILE to the hard limit
    #          (resource.getrlimit / resource.setrlimit).
    # TODO: 2. Install a SIGTERM handler that ends the server with exit status 0.
    # TODO: 3. Create the listening socket (family from the address, SO_REUSEADDR
    #          before bind, listen(BACKLOG)), make it non-blocking, and register
    #          it in a select.epoll() for EPOLLIN.
    # TODO: 4. Keep, for every client (by descriptor number), its socket, an
    #          outgoing buffer, whether it has ended, and the events it is
    #          registered for.
    # TODO: 5. Loop over epoll.poll() (no timeout). Listener ready: accept until
    #          BlockingIOError, make each socket non-blocking, register it for
    #          EPOLLIN.
    # TODO: 6. Client readable: recv(CHUNK) into its buffer (b'' is its end of
    #          stream), then try to send. Client writable: send what you can.
    #          Drop it (unregister, close) on ConnectionError/OSError.
    # TODO: 7. After each change, epoll.modify() the client to what it needs:
    #          EPOLLIN while it has not ended and its buffer is below HIGH_WATER,
    #          EPOLLOUT only while bytes wait. Ended and empty: unregister, close.
    raise NotImplementedError("TODO: write the epoll echo server in serve()")


def main() -> None:
    args = parse_args()
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
