"""kata4: a UDP client.

Postcards get lost. Your client sends each line typed into it as one
postcard (one datagram, without the newline) to the server, and prints the
answer. If no answer comes within --timeout seconds, it sends the same card
again, at the same steady pace, up to --retries more times; then it gives up
with one line on stderr and exit status 1. Only the server may answer: a
card from any other address is a stranger's and is ignored. At the end of
input the client leaves with status 0.

Run it:   printf 'hello\n' | python client.py --host 127.0.0.1 --port 9000 --timeout 0.5
Grade it: grader check kata4
"""

import argparse
import signal
import socket
import sys


def parse_args():
    parser = argparse.ArgumentParser(description="UDP client: one datagram per line, with retransmission")
    parser.add_argument("--host", required=True, help="literal address of the server: 127.0.0.1, ::1, ...")
    parser.add_argument("--port", required=True, type=int, help="UDP port of the server")
    parser.add_argument("--timeout", type=float, default=1.0,
                        help="seconds to wait for a reply before sending again (default 1.0)")
    parser.add_argument("--retries", type=int, default=3,
                        help="retransmissions before giving up (default 3)")
    return parser.parse_args()


def run(host, port, timeout, retries):
    # TODO 1: make a datagram socket of the right family (AF_INET6 when `host`
    #         contains ':'). No bind, no connect needed.
    # TODO 2: the server's address as recvfrom will report it: take it from
    #         socket.getaddrinfo(host, port, family, socket.SOCK_DGRAM).
    # TODO 3: for each line of sys.stdin.buffer, strip its newline and
    #         sendto() it; then wait for a reply with sock.settimeout().
    #         A datagram from another address is not a reply: ignore it, but
    #         do not restart the clock -- wait until a fixed deadline.
    # TODO 4: no reply by the deadline: send the same datagram again (same
    #         spacing every time, no backoff), up to `retries` times.
    # TODO 5: print each reply on stdout (flush!). Giving up: one line on
    #         stderr, return 1. End of input: return 0.
    raise NotImplementedError("TODO: write the client in run()")


def main():
    args = parse_args()
    # Stopped with SIGTERM: leave quietly.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    sys.exit(run(args.host, args.port, args.timeout, args.retries))


if __name__ == "__main__":
    main()
