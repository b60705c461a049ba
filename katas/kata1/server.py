"""kata1: a TCP echo server, one client at a time.

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


def serve(host, port):
    # TODO 1: make a listening socket. The family follows the address:
    #         AF_INET6 when `host` contains ':', AF_INET otherwise.
    # TODO 2: set SO_REUSEADDR *before* bind, so a restart right after a
    #         crash does not fail with "Address already in use".
    # TODO 3: bind((host, port)) and listen().
    # TODO 4: loop forever: accept() a client (a NEW socket), then recv and
    #         sendall until recv returns b"" (the client's end of stream),
    #         then close the connected socket -- but not the listening one.
    raise NotImplementedError("TODO: write the echo server in serve()")


def main():
    args = parse_args()
    # The grader stops your server with SIGTERM; exit quietly when it does.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
