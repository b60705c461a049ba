"""BROKEN ON PURPOSE: It listens on port 9000, the port it was tested on by hand, whatever --port says: nothing listens where the grader looks.

kata8: a TCP echo server for ten thousand connections, with epoll (C10K).

The wall of lamps got too big: scanning a thousand lamps to find the two that
are lit took the operator all day. The new switchboard keeps a list of the lit
lamps for her, so each look costs only what is ready, however many lines are
plugged in. Ten thousand callers may hold the line at once; say back every
byte each of them says.

Run it:   python server.py --host 127.0.0.1 --port 20008
Grade it: grader check kata8
"""

import argparse
import errno
import resource
import select
import signal
import socket
import sys


CHUNK = 65536
# Stop reading from a client once this much of its echo is waiting to go out:
# a client that sends and never reads must not grow our memory without bound.
HIGH_WATER = 1 << 20
# The kernel clamps this to net.core.somaxconn (4096 on current kernels).
# A burst of thousands of connects must not overflow the accept queue.
BACKLOG = 4096


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="TCP echo server: one thread, non-blocking sockets, epoll."
    )
    parser.add_argument(
        "--host",
        required=True,
        help="literal address to listen on: 127.0.0.1, ::1, :: or 0.0.0.0",
    )
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    return parser.parse_args(argv)


def raise_nofile_limit() -> None:
    # Every connection costs a descriptor, and the soft limit is often 1024.
    # Any process may raise its soft limit up to the hard one.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20  # "unlimited" is still capped by fs.nr_open
    if soft != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass  # keep what we have: fewer connections, but still a server


def make_listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    # Without it, a restart while old connections sit in TIME_WAIT fails with EADDRINUSE.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 9000))  # the port I tried it on
    listener.listen(BACKLOG)
    return listener


class Client:
    # __slots__ keeps each idle connection to a few hundred bytes of Python objects.
    __slots__ = ("sock", "out", "eof", "mask")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.out = bytearray()  # echo waiting for room in the send buffer
        self.eof = False  # the client has half-closed: nothing more will arrive
        self.mask = select.EPOLLIN  # what the epoll set currently watches for

    def wanted_mask(self) -> int:
        mask = 0
        if not self.eof and len(self.out) < HIGH_WATER:
            mask |= select.EPOLLIN
        # Level-triggered EPOLLOUT fires whenever the send buffer has room, which
        # is almost always: watch for it only while there is something to send.
        if self.out:
            mask |= select.EPOLLOUT
        return mask


def stop(signum, frame) -> None:
    sys.exit(0)


class EchoServer:
    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.epoll = select.epoll()
        self.epoll.register(listener.fileno(), select.EPOLLIN)
        self.accepting = True
        self.clients: dict[int, Client] = {}  # by descriptor number, as epoll reports them

    def run(self) -> None:
        listener_fd = self.listener.fileno()
        while True:
            # No timeout: when nothing happens, the process sleeps in epoll_wait.
            for fd, events in self.epoll.poll():
                if fd == listener_fd:
                    self.accept_all()
                    continue
                client = self.clients.get(fd)
                if client is None:
                    continue
                # ERR and HUP are reported even when not asked for: let the
                # next recv() or send() turn them into an exception.
                trouble = events & (select.EPOLLERR | select.EPOLLHUP)
                if client.mask & select.EPOLLIN and (events & select.EPOLLIN or trouble):
                    self.on_readable(client)
                if fd in self.clients and client.out and (events & select.EPOLLOUT or trouble):
                    self.flush(client)

    def accept_all(self) -> None:
        # Many connections may be waiting; take them all before polling again.
        while True:
            try:
                conn, _addr = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE):
                    # Out of descriptors: the listener would stay readable and
                    # wake us forever. Stop watching it until a client leaves.
                    self.epoll.modify(self.listener.fileno(), 0)
                    self.accepting = False
                return  # or the connection was aborted before we took it
            conn.setblocking(False)
            self.clients[conn.fileno()] = Client(conn)
            self.epoll.register(conn.fileno(), select.EPOLLIN)

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
        # Try at once: usually the send buffer has room, and we save both a
        # trip through epoll_wait and two epoll_ctl calls.
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
            return
        mask = client.wanted_mask()
        if mask != client.mask:
            self.epoll.modify(client.sock.fileno(), mask)
            client.mask = mask

    def drop(self, client: Client) -> None:
        fd = client.sock.fileno()
        del self.clients[fd]
        self.epoll.unregister(fd)
        client.sock.close()
        if not self.accepting:
            self.epoll.modify(self.listener.fileno(), select.EPOLLIN)
            self.accepting = True

    def close(self) -> None:
        for client in list(self.clients.values()):
            self.drop(client)
        self.epoll.close()


def serve(host: str, port: int) -> None:
    raise_nofile_limit()
    signal.signal(signal.SIGTERM, stop)
    with make_listener(host, port) as listener:
        # A readable listener may have nothing left to accept by the time we get
        # to it: accept() must never block the only thread.
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
