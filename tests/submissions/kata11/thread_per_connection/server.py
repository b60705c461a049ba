"""BROKEN ON PURPOSE: it serves each client with a blocking thread of its own instead of one event loop, so ten thousand connections need ten thousand threads and nothing waits in the platform's readiness call.

kata11: a portable event loop (the C10K echo server, again).

Your kata8 server spoke epoll, which only Linux understands. Take it on a trip:
the same ten thousand echo clients, one thread, but the waiting is done by
`selectors.DefaultSelector`, which picks epoll on Linux, kqueue on macOS and
the BSDs, and falls back to poll or select elsewhere. On the way it learns two
manners: it stops listening to a client that talks faster than it reads
(back-pressure), and when told to stop (SIGTERM) it says goodbye to every
client with a FIN before it leaves.

Run it:   python server.py --host 127.0.0.1 --port 9000
Grade it: grader check kata11
"""

import argparse
import signal
import socket
import sys
import threading

CHUNK = 64 * 1024


def parse_args():
    parser = argparse.ArgumentParser(description="C10K echo server on selectors.DefaultSelector")
    parser.add_argument("--host", required=True, help="literal address to listen on: 127.0.0.1, ::1, ...")
    parser.add_argument("--port", required=True, type=int, help="TCP port to listen on")
    return parser.parse_args()


class EchoServer:
    def __init__(self, host, port):
        self.clients = set()
        self.lock = threading.Lock()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        # The kernel caps the backlog at net.core.somaxconn.
        self.listener.listen(4096)

    def run(self):
        try:
            while True:
                sock, _peer = self.listener.accept()
                with self.lock:
                    self.clients.add(sock)
                # Blocking calls in a thread of its own: sendall blocks while
                # the client does not read, which is back-pressure for free.
                threading.Thread(target=self.echo, args=(sock,), daemon=True).start()
        finally:
            self.shutdown()

    def echo(self, sock):
        try:
            while data := sock.recv(CHUNK):
                sock.sendall(data)
        except OSError:
            pass
        finally:
            with self.lock:
                self.clients.discard(sock)
            sock.close()

    def shutdown(self):
        """Say goodbye to every client with a FIN: their threads then see EOF and close."""
        self.listener.close()
        with self.lock:
            clients = list(self.clients)
        for sock in clients:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(host, port):
    EchoServer(host, port).run()


def main():
    args = parse_args()
    # SystemExit unwinds run() through its finally: clients get their FIN.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
