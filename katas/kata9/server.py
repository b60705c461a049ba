"""kata9: a dual-stack TCP echo server.

Your echo server moves to a building with two front doors, one for IPv4
visitors and one for IPv6 visitors, but it has only one receptionist: a
single IPv6 socket that also answers the IPv4 door. Every visitor is first
told who they look like from the inside, one line `ADDR PORT\n` (an IPv4
visitor looks like `::ffff:127.0.0.1 54321`), and then everything they say is
echoed back, as in kata1.

Run it:   python server.py --host :: --port 9000
Grade it: grader check kata9
"""

import argparse
import signal
import socket
import sys


def parse_args():
    parser = argparse.ArgumentParser(description="dual-stack TCP echo server with a greeting line")
    parser.add_argument("--host", required=True, help="literal address to listen on: ::, ::1, 127.0.0.1, ...")
    parser.add_argument("--port", required=True, type=int, help="TCP port to listen on")
    return parser.parse_args()


def serve(host, port):
    # TODO 1: pick the family from the address: AF_INET6 when `host` contains
    #         ':', AF_INET otherwise.
    # TODO 2: make the listening socket, set SO_REUSEADDR before bind.
    # TODO 3: for an AF_INET6 socket, set IPV6_V6ONLY to 0 yourself
    #         (IPPROTO_IPV6 level), before bind: do not trust the system default.
    # TODO 4: bind((host, port)) and listen().
    # TODO 5: for each accepted client, start a thread that:
    #         a. sends one line "ADDR PORT\n" built from the address accept()
    #            returned (the peer, exactly as the kernel reports it);
    #         b. echoes every byte until the client's end of stream;
    #         c. closes the connected socket, even if the client vanished.
    raise NotImplementedError("TODO: write the dual-stack server in serve()")


def main():
    args = parse_args()
    # The grader stops your server with SIGTERM; exit quietly when it does.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
