"""kata7: a TCP echo server, one thread watching every socket with select.

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
# Stop reading from a client once this much of its echo is waiting to go out.
HIGH_WATER = 1 << 20
# select() cannot watch descriptor numbers >= FD_SETSIZE (1024 on Linux).
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


def serve(host: str, port: int) -> None:
    # TODO: 1. Install a SIGTERM handler that ends the server with exit status 0.
    # TODO: 2. Create the listening socket (family from the address, SO_REUSEADDR
    #          before bind, listen) and make it non-blocking.
    # TODO: 3. Keep, for every client, its socket, an outgoing buffer (bytearray)
    #          and whether it has sent its end of stream.
    # TODO: 4. Loop: build the read list (the listener while you have room for
    #          clients; each client that has not ended and whose buffer is below
    #          HIGH_WATER) and the write list (only clients with bytes waiting),
    #          then call select.select(readers, writers, []) with no timeout.
    # TODO: 5. Listener readable: accept until BlockingIOError; make each new
    #          socket non-blocking.
    # TODO: 6. Client readable: recv(CHUNK); append data to its buffer, or note
    #          its end of stream on b''. Drop it on ConnectionError/OSError.
    # TODO: 7. Client writable: n = send(buffer); delete the first n bytes. Once a
    #          client has ended and its buffer is empty, close its socket.
    raise NotImplementedError("TODO: write the select() echo server in serve()")


def main() -> None:
    args = parse_args()
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
