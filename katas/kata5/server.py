"""kata5: a TCP echo server, one process per connection (fork).

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


def serve(host: str, port: int) -> None:
    # TODO: 1. Install a SIGTERM handler that ends the server with exit status 0
    #          (sys.exit(0) from the handler is enough).
    # TODO: 2. Install a SIGCHLD handler that reaps every finished child:
    #          os.waitpid(-1, os.WNOHANG) in a loop, until it returns pid 0 or
    #          raises ChildProcessError.
    # TODO: 3. Create the listening socket: the family from the address (IPv6 if
    #          it contains ':'), SO_REUSEADDR before bind, then listen.
    # TODO: 4. Loop forever: accept a connection, then os.fork().
    # TODO: 5. In the child (fork returned 0): close the listening socket, echo
    #          until the client's end of stream, close the connection, and leave
    #          with os._exit(0) whatever happened.
    # TODO: 6. In the parent: close the connected socket at once, then accept again.
    raise NotImplementedError("TODO: write the fork-per-connection echo server in serve()")


def main() -> None:
    args = parse_args()
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
