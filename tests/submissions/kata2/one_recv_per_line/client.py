"""BROKEN ON PURPOSE: After sending each line it calls recv exactly once and prints that as the whole echo, and at end of input it half-closes and exits without reading what is left, so dribbled or late replies are cut.

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
import signal
import socket
import sys


def parse_args():
    parser = argparse.ArgumentParser(description="TCP client: send stdin lines, print what comes back")
    parser.add_argument("--host", required=True, help="literal address of the server: 127.0.0.1, ::1, ...")
    parser.add_argument("--port", required=True, type=int, help="TCP port of the server")
    return parser.parse_args()


def run(host, port):
    try:
        # No bind: connect() lets the kernel pick an ephemeral local port.
        sock = socket.create_connection((host, port))
    except OSError as exc:
        print(f"client: cannot connect to {host} port {port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    out = sys.stdout.buffer
    with sock:
        for line in sys.stdin.buffer:
            sock.sendall(line)
            # The server echoes each line back: one recv gets its reply.
            out.write(sock.recv(65536))
            out.flush()
        sock.shutdown(socket.SHUT_WR)
    return 0


def main():
    args = parse_args()
    # Stopped with SIGTERM: leave quietly (the socket is closed on the way out).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    sys.exit(run(args.host, args.port))


if __name__ == "__main__":
    main()
