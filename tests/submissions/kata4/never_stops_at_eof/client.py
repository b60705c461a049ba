"""BROKEN ON PURPOSE: It reads stdin with readline() in an endless loop and never checks for b'' (end of input), so at the end of input it sends an empty datagram and waits for more input instead of exiting.

kata4: a UDP client.

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
import time

MAX_DATAGRAM = 65535


def parse_args():
    parser = argparse.ArgumentParser(description="UDP client: one datagram per line, with retransmission")
    parser.add_argument("--host", required=True, help="literal address of the server: 127.0.0.1, ::1, ...")
    parser.add_argument("--port", required=True, type=int, help="UDP port of the server")
    parser.add_argument("--timeout", type=float, default=1.0,
                        help="seconds to wait for a reply before sending again (default 1.0)")
    parser.add_argument("--retries", type=int, default=3,
                        help="retransmissions before giving up (default 3)")
    return parser.parse_args()


def drain(sock):
    """Throw away datagrams already queued: late duplicates of old replies."""
    # An echo carries no request id: a reply to an earlier retransmission,
    # arriving now, would pass for the answer to the next line.
    sock.setblocking(False)
    try:
        while True:
            sock.recvfrom(MAX_DATAGRAM)
    except (BlockingIOError, ConnectionError):
        pass
    finally:
        sock.setblocking(True)


def wait_for_reply(sock, server, deadline):
    """The server's reply, or None once the deadline has passed."""
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data, sender = sock.recvfrom(MAX_DATAGRAM)
        except TimeoutError:
            return None
        except ConnectionError:
            # An ICMP "port unreachable" (reported on Windows, or to a
            # connected socket) says nothing arrived: keep waiting.
            continue
        # Anyone can send us a datagram; only the server's is a reply. The
        # clock runs on regardless, so a flood of strangers cannot stall us.
        if sender[:2] == server[:2]:
            return data
    return None


def exchange(sock, server, payload, timeout, retries):
    """Send payload until the server answers; None after `retries` resends."""
    drain(sock)
    for _attempt in range(1 + retries):
        try:
            sock.sendto(payload, server)
        except ConnectionError:
            # A refusal left over from the previous send: no reply yet.
            pass
        # Fixed spacing: every try gets the same `timeout`, no backoff.
        reply = wait_for_reply(sock, server, time.monotonic() + timeout)
        if reply is not None:
            return reply
    return None


def run(host, port, timeout, retries):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    out = sys.stdout.buffer
    try:
        # The address in the form recvfrom reports it (an IPv6 one is a
        # 4-tuple), so that a reply's sender can be compared with it.
        server = socket.getaddrinfo(host, port, family, socket.SOCK_DGRAM)[0][4]
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            while True:
                line = sys.stdin.buffer.readline()
                payload = line.removesuffix(b"\n")
                reply = exchange(sock, server, payload, timeout, retries)
                if reply is None:
                    print(f"client: no reply from {host} port {port} after {retries} retransmissions",
                          file=sys.stderr)
                    return 1
                out.write(reply + b"\n")
                out.flush()
    except OSError as exc:
        print(f"client: cannot talk to {host} port {port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def main():
    args = parse_args()
    # Stopped with SIGTERM: leave quietly.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    sys.exit(run(args.host, args.port, args.timeout, args.retries))


if __name__ == "__main__":
    main()
