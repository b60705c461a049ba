"""kata3: a UDP echo server.

No phone calls this time: postcards. Anyone may drop a postcard (a datagram)
in your letterbox, and each one carries its sender's return address. Your
server reads each postcard and sends an exact copy back to whoever sent it,
from the same letterbox, whole: a blank card, a card the size of a poster,
a card in a language you cannot read. There is no connection to accept and
none to close; one socket serves everybody.

Run it:   python server.py --host 127.0.0.1 --port 9000
Grade it: grader check kata3
"""

import argparse
import signal
import socket
import sys


def parse_args():
    parser = argparse.ArgumentParser(description="UDP echo server")
    parser.add_argument("--host", required=True, help="literal address to bind: 127.0.0.1, ::1, ...")
    parser.add_argument("--port", required=True, type=int, help="UDP port to bind")
    return parser.parse_args()


def serve(host, port):
    # TODO 1: make ONE datagram socket (SOCK_DGRAM). The family follows the
    #         address: AF_INET6 when `host` contains ':', AF_INET otherwise.
    # TODO 2: bind((host, port)). No listen(), no accept(): UDP has neither.
    # TODO 3: loop forever: recvfrom() a datagram and the address it came
    #         from, then sendto() the same bytes back to that address, from
    #         this same socket. How big can a datagram be? Your buffer must
    #         hold the largest one whole (recvfrom drops what does not fit).
    # TODO 4: a datagram is not text, and an empty one is still a datagram:
    #         echo them all. A sendto that fails must not stop the server.
    raise NotImplementedError("TODO: write the echo server in serve()")


def main():
    args = parse_args()
    # The grader stops your server with SIGTERM; exit quietly when it does.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
