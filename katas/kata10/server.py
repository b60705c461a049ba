"""kata10: an HTTP/1.1 static file server.

A web browser is only a TCP client that speaks a polite text protocol. Your
server is the librarian at the other end of the socket: it reads a request
("GET /notes.txt HTTP/1.1", a few headers, an empty line), fetches the file
from the shelf it was given (--root) and hands it over with a status line and
headers. It never fetches from anyone else's shelf, however the path is
dressed up (`/../`, `%2e%2e`, a symlink pointing out).

Run it:   python server.py --host 127.0.0.1 --port 8080 --root ./www
Grade it: grader check kata10
"""

import argparse
import signal
import sys


def parse_args():
    parser = argparse.ArgumentParser(description="HTTP/1.1 static file server")
    parser.add_argument("--host", required=True, help="literal address to listen on: 127.0.0.1, ::1, ...")
    parser.add_argument("--port", required=True, type=int, help="TCP port to listen on")
    parser.add_argument("--root", required=True, help="directory whose files are served")
    return parser.parse_args()


def serve(host, port, root):
    # TODO 1: root = os.path.realpath(root), once: every file you serve must
    #         resolve to a path under it.
    # TODO 2: listening socket as in kata1 (family from `host`, SO_REUSEADDR
    #         before bind), then accept in a loop and serve each connection in
    #         its own thread.
    # TODO 3: per connection, keep a buffer: recv until it holds an empty line
    #         (b"\r\n\r\n"), however the bytes arrive (one at a time, or several
    #         requests in one segment). What follows the empty line belongs to
    #         the next request.
    # TODO 4: parse the request line "METHOD TARGET HTTP/1.x" and the
    #         "Name: value" headers. Anything else is 400 Bad Request (then close).
    # TODO 5: a method other than GET and HEAD is 405 with "Allow: GET, HEAD".
    # TODO 6: map the target to a file: drop "?query", percent-decode
    #         (urllib.parse.unquote), refuse NUL, join with root, os.path.realpath,
    #         and refuse (404) anything whose real path is not under root.
    #         A directory serves its index.html if there is one, else 404.
    # TODO 7: answer "HTTP/1.1 200 OK" with Content-Length (bytes!) and
    #         Content-Type (mimetypes, else application/octet-stream), an empty
    #         line, then the body (not for HEAD), streamed in chunks with sendall.
    # TODO 8: keep the connection open for the next request, unless the client
    #         sent "Connection: close" or spoke HTTP/1.0 without keep-alive.
    raise NotImplementedError("TODO: write the file server in serve()")


def main():
    args = parse_args()
    # The grader stops your server with SIGTERM; exit quietly when it does.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    serve(args.host, args.port, args.root)


if __name__ == "__main__":
    main()
