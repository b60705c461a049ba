"""kata2: a TCP client.

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
    # TODO 1: connect to (host, port). socket.create_connection does the
    #         socket() and connect() for either family. Do NOT bind: the
    #         kernel picks an ephemeral local port for you.
    # TODO 2: if the connection fails (ConnectionRefusedError is an OSError),
    #         print one clear line on stderr and return 1 -- no traceback.
    # TODO 3: in a background thread (threading.Thread, daemon=True): read
    #         stdin with os.read(sys.stdin.fileno(), 65536) and sendall what
    #         you get; os.read returning b"" is the end of input: then call
    #         shutdown(socket.SHUT_WR) -- not close().
    # TODO 4: meanwhile, in this thread: recv in a loop and write every chunk
    #         to sys.stdout.buffer, then flush() at once; stop when recv
    #         returns b"" (the server closed), close the socket and return 0.
    raise NotImplementedError("TODO: write the client in run()")


def main():
    args = parse_args()
    # Stopped with SIGTERM: leave quietly (the socket is closed on the way out).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    sys.exit(run(args.host, args.port))


if __name__ == "__main__":
    main()
