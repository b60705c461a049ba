"""BROKEN ON PURPOSE: It always makes an AF_INET socket and connects it, so given an IPv6 address such as ::1 it cannot connect at all.

kata2: a TCP client.

Until now you wrote the side that waits. Now you are the one who calls: your
client dials a server, passes on every line typed into it, and shows what the
server says back the moment it arrives, even a few bytes at a time. When the
typing stops (end of input), you say "I am done talking" without hanging up
(a half-close), listen until the server hangs up, and leave with status 0.
If nobody answers the call, say so in one line on stderr and leave with 1.

Run it:   printf 'hello\nworld\n' | python client.py --host 127.0.0.1 --port 9000
Grade it: grader check kata2
"""

import argparse
import os
import signal
import socket
import sys
import threading


def parse_args():
    parser = argparse.ArgumentParser(description="TCP client: send stdin lines, print what comes back")
    parser.add_argument("--host", required=True, help="literal address of the server: 127.0.0.1, ::1, ...")
    parser.add_argument("--port", required=True, type=int, help="TCP port of the server")
    return parser.parse_args()


def send_lines(sock):
    """Forward stdin to the server, then half-close."""
    # os.read, not sys.stdin: the buffered stdin object takes a lock that the
    # interpreter needs at exit, and this thread may still be blocked in it
    # when the server closes first (a fatal error instead of exit status 0).
    # os.read returns a line as soon as one is typed; TCP is a byte stream, so
    # how the bytes are cut into sends does not matter to the server.
    stdin = sys.stdin.fileno()
    try:
        while chunk := os.read(stdin, 65536):
            sock.sendall(chunk)
        # SHUT_WR sends our FIN but keeps the receiving half open: the server
        # learns we are done and can still send us the rest of its reply.
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        # The server went away; the receiving side notices and ends the program.
        pass


def print_replies(sock):
    """Copy everything the server sends to stdout until it closes."""
    out = sys.stdout.buffer
    # A recv returns whatever has arrived so far, maybe half a line: print it
    # as it is, and flush now, since a pipe would otherwise hold it back.
    while data := sock.recv(65536):
        out.write(data)
        out.flush()


def run(host, port):
    try:
        # No bind: connect() lets the kernel pick an ephemeral local port.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.connect((host, port))
        except OSError:
            sock.close()
            raise
    except OSError as exc:
        print(f"client: cannot connect to {host} port {port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    with sock:
        # Two directions, two threads: a reply is printed as soon as it comes,
        # even while we are still waiting for the next line of input.
        threading.Thread(target=send_lines, args=(sock,), daemon=True).start()
        try:
            print_replies(sock)
        except OSError as exc:
            print(f"client: connection to {host} port {port} broken: {exc.strerror or exc}", file=sys.stderr)
            return 1
    return 0


def main():
    args = parse_args()
    # Stopped with SIGTERM: leave quietly (the socket is closed on the way out).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    sys.exit(run(args.host, args.port))


if __name__ == "__main__":
    main()
