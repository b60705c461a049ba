"""BROKEN ON PURPOSE: It listens on port 9000, the port it was tested on by hand, whatever --port says: nothing listens where the grader looks.

kata7: a TCP echo server, one thread watching every socket with select.

The exchange now has one operator and a wall of lamps. She never waits on a
single caller: she looks at the wall, serves every lamp that is lit, and looks
again. One person, many lines, nobody kept waiting because somebody else is
slow. Say back every byte each caller says.

Run it:   python server.py --host 127.0.0.1 --port 20007
Grade it: grader check kata7
"""

import argparse
import select
import signal
import socket
import sys


CHUNK = 65536
# Stop reading from a client once this much of its echo is waiting to go out:
# a client that sends and never reads must not grow our memory without bound.
HIGH_WATER = 1 << 20
# select() cannot watch descriptor numbers >= FD_SETSIZE (1024 on Linux).
# Leave room for stdin/stdout/stderr, the listener and a few spare.
MAX_CLIENTS = 1000


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="TCP echo server: one thread, non-blocking sockets, select()."
    )
    parser.add_argument(
        "--host",
        required=True,
        help="literal address to listen on: 127.0.0.1, ::1, :: or 0.0.0.0",
    )
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    return parser.parse_args(argv)


def make_listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    # Without it, a restart while old connections sit in TIME_WAIT fails with EADDRINUSE.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 9000))  # the port I tried it on
    listener.listen()
    return listener


class Client:
    __slots__ = ("sock", "out", "eof")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.out = bytearray()  # echo waiting for room in the send buffer
        self.eof = False  # the client has half-closed: nothing more will arrive

    def wants_read(self) -> bool:
        return not self.eof and len(self.out) < HIGH_WATER

    def wants_write(self) -> bool:
        return bool(self.out)


def stop(signum, frame) -> None:
    sys.exit(0)


class EchoServer:
    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.clients: dict[socket.socket, Client] = {}

    def run(self) -> None:
        while True:
            readers = [c.sock for c in self.clients.values() if c.wants_read()]
            if len(self.clients) < MAX_CLIENTS:
                readers.append(self.listener)
            # Only ask about writability when there is something to write: an
            # empty send buffer is always writable and select would never sleep.
            writers = [c.sock for c in self.clients.values() if c.wants_write()]
            # No timeout: when nothing happens, the process sleeps in the kernel.
            readable, writable, _ = select.select(readers, writers, [])
            for sock in readable:
                if sock is self.listener:
                    self.accept_all()
                elif sock in self.clients:
                    self.on_readable(self.clients[sock])
            for sock in writable:
                # The client may have been closed while handling readable sockets.
                if sock in self.clients:
                    self.flush(self.clients[sock])

    def accept_all(self) -> None:
        while len(self.clients) < MAX_CLIENTS:
            try:
                conn, _addr = self.listener.accept()
            except BlockingIOError:
                return
            except OSError:
                return  # aborted before we got to it, or out of descriptors
            conn.setblocking(False)
            self.clients[conn] = Client(conn)

    def on_readable(self, client: Client) -> None:
        try:
            data = client.sock.recv(CHUNK)
        except BlockingIOError:
            return
        except OSError:
            self.drop(client)
            return
        if data:
            client.out += data
        else:
            client.eof = True
        # Try at once: usually the send buffer has room, and we save a trip
        # through select.
        self.flush(client)

    def flush(self, client: Client) -> None:
        if client.out:
            try:
                sent = client.sock.send(client.out)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.drop(client)
                return
            # send() on a non-blocking socket may take only part: keep the rest.
            del client.out[:sent]
        if client.eof and not client.out:
            # Everything echoed and nothing unread: close() sends a FIN.
            self.drop(client)

    def drop(self, client: Client) -> None:
        del self.clients[client.sock]
        client.sock.close()

    def close(self) -> None:
        for client in list(self.clients.values()):
            self.drop(client)


def serve(host: str, port: int) -> None:
    signal.signal(signal.SIGTERM, stop)
    with make_listener(host, port) as listener:
        # A readable listener may have nothing left to accept by the time we get
        # to it (the client gave up): accept() must not block the whole server.
        listener.setblocking(False)
        server = EchoServer(listener)
        try:
            server.run()
        finally:
            server.close()


def main() -> None:
    args = parse_args()
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
