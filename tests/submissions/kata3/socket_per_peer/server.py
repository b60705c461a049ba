"""BROKEN ON PURPOSE: It opens a new socket for each new peer, as TCP's accept would, keeps it in a dict and replies from it, so it holds one more descriptor per peer, forever, and its replies come from the wrong port.

kata3: a UDP echo server.

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

# The largest UDP payload is 65,507 bytes over IPv4 and 65,527 over IPv6; a
# datagram longer than the buffer given to recvfrom is cut, silently.
MAX_DATAGRAM = 65535


def parse_args():
    parser = argparse.ArgumentParser(description="UDP echo server")
    parser.add_argument("--host", required=True, help="literal address to bind: 127.0.0.1, ::1, ...")
    parser.add_argument("--port", required=True, type=int, help="UDP port to bind")
    return parser.parse_args()


def serve(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind((host, port))
        clients = {}
        while True:
            # Each call returns exactly one datagram (maybe empty) and its
            # sender: the address is all that ties a reply to its request.
            data, peer = sock.recvfrom(MAX_DATAGRAM)
            try:
                # One socket per client, as with TCP's accept().
                if peer not in clients:
                    clients[peer] = socket.socket(family, socket.SOCK_DGRAM)
                clients[peer].sendto(data, peer)
            except OSError:
                # One peer we cannot answer (unreachable, buffer full) must
                # not stop the others from being served.
                pass


def main():
    args = parse_args()
    # The grader stops your server with SIGTERM; exit quietly when it does.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
