"""kata11: a portable event loop (the C10K echo server, again).

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


def parse_args():
    parser = argparse.ArgumentParser(description="C10K echo server on selectors.DefaultSelector")
    parser.add_argument("--host", required=True, help="literal address to listen on: 127.0.0.1, ::1, ...")
    parser.add_argument("--port", required=True, type=int, help="TCP port to listen on")
    return parser.parse_args()


def serve(host, port):
    # TODO 1: SIGTERM first: make a socketpair, set both ends non-blocking,
    #         signal.set_wakeup_fd(write_end.fileno()), and install a SIGTERM
    #         handler that does nothing (the wakeup byte is what counts).
    # TODO 2: sel = selectors.DefaultSelector(); never name epoll, poll or
    #         select yourself. Register the socketpair's read end for
    #         EVENT_READ.
    # TODO 3: listening socket as in kata8 (family from `host`, SO_REUSEADDR,
    #         bind, listen(4096)), non-blocking, registered for EVENT_READ.
    #         Do NOT call setrlimit: the grader starts you with soft = hard.
    # TODO 4: loop on sel.select(). Listener readable: accept (until
    #         BlockingIOError), make each client non-blocking and register it
    #         for EVENT_READ with a per-client output buffer (a bytearray).
    # TODO 5: client readable: recv into its buffer and try to send at once;
    #         b"" means the client half-closed: send what remains, then close.
    #         Client writable: send what you can, keep the rest.
    #         After each step, re-register what it needs:
    #           EVENT_READ  only while not at EOF and the buffer is below a
    #                       high-water mark (say 256 KiB): back-pressure;
    #           EVENT_WRITE only while the buffer is not empty.
    #         Reset or vanished client: unregister and close it, carry on.
    # TODO 6: wakeup end readable with SIGTERM in it: for every client,
    #         shutdown(SHUT_WR), read what is still pending, close; close the
    #         listener and return (exit status 0, within a second).
    raise NotImplementedError("TODO: write the portable event loop in serve()")


def main():
    args = parse_args()
    # SIGTERM is handled inside the loop (TODO 1 and 6): returning from
    # serve() is a clean exit with status 0.
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
