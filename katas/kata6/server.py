"""kata6: a TCP echo server, one thread per connection.

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


def serve(host: str, port: int) -> None:
    # TODO: 1. Install a SIGTERM handler that ends the server with exit status 0
    #          (sys.exit(0) from the handler is enough).
    # TODO: 2. Create the listening socket: the family from the address (IPv6 if
    #          it contains ':'), SO_REUSEADDR before bind, then listen.
    # TODO: 3. Write the per-connection function: echo until the client's end of
    #          stream (or until it resets), then close the socket and return.
    #          A `with conn:` block closes it on every path.
    # TODO: 4. Loop forever: accept a connection and start a new
    #          threading.Thread(target=..., args=(conn,), daemon=True) for it.
    raise NotImplementedError("TODO: write the thread-per-connection echo server in serve()")


def main() -> None:
    args = parse_args()
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
