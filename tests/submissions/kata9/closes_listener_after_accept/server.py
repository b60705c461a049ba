"""BROKEN ON PURPOSE: it serves one client at a time and closes the listening socket while it does, opening a new one afterwards, so listening and connected sockets never coexist.

kata9: a dual-stack TCP echo server.

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
import threading


def parse_args():
    parser = argparse.ArgumentParser(description="dual-stack TCP echo server with a greeting line")
    parser.add_argument("--host", required=True, help="literal address to listen on: ::, ::1, 127.0.0.1, ...")
    parser.add_argument("--port", required=True, type=int, help="TCP port to listen on")
    return parser.parse_args()


def greet_and_echo(conn, peer):
    """Tell the client who it is, then echo until its end of stream."""
    # An AF_INET6 peer is (host, port, flowinfo, scope_id), an AF_INET one
    # (host, port): the first two are what we report, untouched.
    addr, peer_port = peer[0], peer[1]
    with conn:
        try:
            conn.sendall(f"{addr} {peer_port}\n".encode("ascii"))
            while data := conn.recv(65536):
                conn.sendall(data)
        except OSError:
            # A client that resets or vanishes ends its own connection only.
            pass


def serve(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    while True:
        with socket.socket(family, socket.SOCK_STREAM) as listener:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            listener.bind((host, port))
            listener.listen()
            conn, peer = listener.accept()
        # One client at a time: nobody else can connect while we serve it.
        greet_and_echo(conn, peer)


def main():
    args = parse_args()
    # The grader stops your server with SIGTERM; exit quietly when it does.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
