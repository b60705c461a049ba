"""BROKEN ON PURPOSE: it calls StreamWriter.write() without awaiting drain(), so a client that sends a lot and reads slowly makes the server buffer without limit (no back-pressure).

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
import asyncio
import signal
import socket

CHUNK = 64 * 1024
CLOSE_TIMEOUT = 0.5           # at SIGTERM, how long we wait for the FINs to go out


def parse_args():
    parser = argparse.ArgumentParser(description="C10K echo server on selectors.DefaultSelector")
    parser.add_argument("--host", required=True, help="literal address to listen on: 127.0.0.1, ::1, ...")
    parser.add_argument("--port", required=True, type=int, help="TCP port to listen on")
    return parser.parse_args()


async def echo(reader, writer, writers):
    writers.add(writer)
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
    except ConnectionError:
        pass
    finally:
        writers.discard(writer)
        # Flushes what is buffered, then closes with a FIN.
        writer.close()


async def serve_async(host, port):
    # Make the listening socket ourselves: a literal address needs no
    # resolver, and we choose the family, the option and the backlog.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(4096)

    stop = asyncio.Event()
    # Wakes the loop through a descriptor, like set_wakeup_fd (Unix only).
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)

    writers = set()
    # start_server calls listen() again, with its own backlog (default 100):
    # too short a queue for ten thousand clients arriving at once.
    server = await asyncio.start_server(lambda r, w: echo(r, w, writers), sock=listener, backlog=4096, limit=CHUNK)
    await stop.wait()
    server.close()
    for writer in list(writers):
        writer.close()
    closing = [asyncio.ensure_future(writer.wait_closed()) for writer in writers]
    if closing:
        await asyncio.wait(closing, timeout=CLOSE_TIMEOUT)


def serve(host, port):
    asyncio.run(serve_async(host, port))


def main():
    args = parse_args()
    # SIGTERM is handled inside the loop (see serve_async): returning from
    # serve() is a clean exit with status 0.
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
