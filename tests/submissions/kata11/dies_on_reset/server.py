"""BROKEN ON PURPOSE: It catches only BlockingIOError around recv() and send(), so a client that resets its connection (ConnectionResetError) or vanishes mid-stream (BrokenPipeError) crashes the whole server.

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
import selectors
import signal
import socket

CHUNK = 64 * 1024
HIGH_WATER = 256 * 1024       # stop reading a client whose unsent echo exceeds this
ACCEPTS_PER_WAKEUP = 256      # a flood of new clients must not starve the old ones
DRAIN_READS = 256             # at SIGTERM, read at most this many chunks (16 MiB) per client


def parse_args():
    parser = argparse.ArgumentParser(description="C10K echo server on selectors.DefaultSelector")
    parser.add_argument("--host", required=True, help="literal address to listen on: 127.0.0.1, ::1, ...")
    parser.add_argument("--port", required=True, type=int, help="TCP port to listen on")
    return parser.parse_args()


class Client:
    """One connection: its socket, the echo not yet sent, and whether it ended."""

    # Ten thousand of these: no per-instance __dict__.
    __slots__ = ("sock", "out", "eof", "events")

    def __init__(self, sock):
        self.sock = sock
        self.out = bytearray()
        self.eof = False          # the client has half-closed its side
        self.events = selectors.EVENT_READ

    def wanted_events(self):
        events = 0
        # Back-pressure: while the echo piles up, leave the client's bytes in
        # the kernel. Its receive window fills and the client's send blocks,
        # so our memory stays bounded by HIGH_WATER per connection.
        if not self.eof and len(self.out) < HIGH_WATER:
            events |= selectors.EVENT_READ
        # Writability is nearly always true: asking for it with nothing to
        # send would wake us in a busy loop.
        if self.out:
            events |= selectors.EVENT_WRITE
        return events


class EchoServer:
    def __init__(self, host, port):
        self.selector = selectors.DefaultSelector()
        self.clients = {}

        # A signal handler runs between bytecodes, but the selector retries its
        # wait after EINTR: without a descriptor to wake it, the loop would not
        # notice SIGTERM until some client spoke. The signal module writes the
        # signal number into this socketpair, which the selector watches.
        # Installed before we listen, so a SIGTERM that follows "ready" at
        # once is not fatal.
        self.wakeup_r, self.wakeup_w = socket.socketpair()
        self.wakeup_r.setblocking(False)
        self.wakeup_w.setblocking(False)
        signal.set_wakeup_fd(self.wakeup_w.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, lambda signum, frame: None)
        self.selector.register(self.wakeup_r, selectors.EVENT_READ, "wakeup")

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        # The kernel caps the backlog at net.core.somaxconn.
        self.listener.listen(4096)
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ, "listener")

    def run(self):
        while True:
            for key, mask in self.selector.select():
                if key.data == "listener":
                    self.accept()
                elif key.data == "wakeup":
                    if signal.SIGTERM in self.wakeup_r.recv(64):
                        self.shutdown()
                        return
                else:
                    client = key.data
                    if mask & selectors.EVENT_READ:
                        self.on_readable(client)
                    if mask & selectors.EVENT_WRITE and client.sock.fileno() != -1:
                        self.on_writable(client)

    def accept(self):
        for _ in range(ACCEPTS_PER_WAKEUP):
            try:
                sock, _peer = self.listener.accept()
            except BlockingIOError:
                return
            except OSError:
                # ECONNABORTED and friends: that client is gone, not us.
                continue
            sock.setblocking(False)
            client = Client(sock)
            self.clients[sock] = client
            self.selector.register(sock, client.events, client)

    def on_readable(self, client):
        try:
            data = client.sock.recv(CHUNK)
        except BlockingIOError:
            return
        if data:
            client.out += data
            # Most of the time the socket can take it right away: try now
            # rather than wait a whole loop turn for EVENT_WRITE.
            self.on_writable(client)
        else:
            client.eof = True
            self.update(client)

    def on_writable(self, client):
        try:
            sent = client.sock.send(client.out)
        except BlockingIOError:
            sent = 0
        del client.out[:sent]
        self.update(client)

    def update(self, client):
        """Register what the client needs next, or finish it."""
        events = client.wanted_events()
        if not events:
            # End of stream seen and everything echoed: nothing is left unread,
            # so close() sends a FIN, not a RST.
            self.drop(client)
        elif events != client.events:
            client.events = events
            self.selector.modify(client.sock, events, client)

    def drop(self, client):
        self.selector.unregister(client.sock)
        del self.clients[client.sock]
        client.sock.close()

    def shutdown(self):
        """Say goodbye to every client with a FIN, never a RST."""
        self.selector.unregister(self.listener)
        self.listener.close()
        for client in list(self.clients.values()):
            sock = client.sock
            try:
                sock.send(client.out)           # what fits now; we do not wait
            except OSError:
                pass
            try:
                sock.shutdown(socket.SHUT_WR)   # our FIN, after that output
                # close() with unread bytes in the receive queue would add a
                # RST: read what is pending (bounded: a client may never stop).
                for _ in range(DRAIN_READS):
                    if not sock.recv(CHUNK):
                        break
            except OSError:
                pass                            # BlockingIOError: drained
            self.drop(client)
        self.selector.close()


def serve(host, port):
    EchoServer(host, port).run()


def main():
    args = parse_args()
    # SIGTERM is handled inside the loop (see EchoServer): returning from
    # serve() is a clean exit with status 0.
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
