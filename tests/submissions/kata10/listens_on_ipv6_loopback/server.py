"""BROKEN ON PURPOSE: it ignores --host and always listens on ::1 ("localhost", where curl found it), so clients of 127.0.0.1 are refused.

kata10: an HTTP/1.1 static file server.

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
import email.utils
import mimetypes
import os
import re
import signal
import socket
import sys
import threading
import urllib.parse

CHUNK = 64 * 1024
MAX_HEAD = 64 * 1024          # request line + headers; a bigger one is refused
IDLE_TIMEOUT = 60.0           # an idle keep-alive connection is closed after this
LINGER = 2.0                  # how long we read a closing client's leftovers
HEAD_END = re.compile(rb"\r?\n\r?\n")
LINE_END = re.compile(r"\r?\n")
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
VERSION = re.compile(r"HTTP/1\.[0-9]")
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


def parse_args():
    parser = argparse.ArgumentParser(description="HTTP/1.1 static file server")
    parser.add_argument("--host", required=True, help="literal address to listen on: 127.0.0.1, ::1, ...")
    parser.add_argument("--port", required=True, type=int, help="TCP port to listen on")
    parser.add_argument("--root", required=True, help="directory whose files are served")
    return parser.parse_args()


class BadRequest(Exception):
    """The bytes received are not an HTTP request we can answer."""


def read_head(conn, buf):
    """Return (head, rest): the bytes before the first empty line, and what follows.

    `head` is None when the client closed between requests. Requests may arrive
    a byte at a time or several in one segment (pipelining): `buf` carries what
    was read past the previous request.
    """
    scan_from = 0
    while not (end := HEAD_END.search(buf, scan_from)):
        if len(buf) > MAX_HEAD:
            raise BadRequest("request head too long")
        # The terminator may straddle two reads: rescan its last 3 bytes.
        scan_from = max(0, len(buf) - 3)
        data = conn.recv(CHUNK)
        if not data:
            return None, buf
        buf += data
    if end.start() > MAX_HEAD:
        raise BadRequest("request head too long")
    return bytes(buf[:end.start()]), buf[end.end():]


def parse_head(head):
    """Return (method, target, version, headers) or raise BadRequest."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise BadRequest("non-ASCII bytes in the request head") from None
    request_line, *header_lines = LINE_END.split(text)
    parts = request_line.split(" ")
    if len(parts) != 3:
        raise BadRequest("request line is not METHOD TARGET VERSION")
    method, target, version = parts
    if not TOKEN.fullmatch(method) or not target or not target.isprintable() or not VERSION.fullmatch(version):
        raise BadRequest("malformed request line")
    headers = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        # No space before the colon, no folded continuation lines (RFC 9112 §5).
        if not colon or not TOKEN.fullmatch(name) or "\r" in value:
            raise BadRequest(f"malformed header line {line!r}")
        headers[name.lower()] = value.strip(" \t")
    return method, target, version, headers


def wants_keep_alive(version, headers):
    options = {token.strip().lower() for token in headers.get("connection", "").split(",")}
    if version == "HTTP/1.0":
        return "keep-alive" in options
    return "close" not in options


def resolve(root, target):
    """Map a request target to a regular file under `root`, or None.

    `root` is already a realpath. Everything the client controls (dot-dot
    segments, percent-encoding, symlinks inside the root) is undone *before*
    the containment check, so the check judges the file that would be opened.
    """
    path = target.split("?", 1)[0].split("#", 1)[0]
    path = urllib.parse.unquote(path)
    if "\0" in path:
        return None
    candidate = os.path.realpath(os.path.join(root, path.lstrip("/")))
    if os.path.isdir(candidate):
        # The index may itself be a symlink pointing out: resolve it again.
        candidate = os.path.realpath(os.path.join(candidate, "index.html"))
    if os.path.commonpath([root, candidate]) != root:
        return None
    if not os.path.isfile(candidate):
        return None
    return candidate


def send_response(conn, status, headers, keep_alive):
    lines = [f"HTTP/1.1 {status} {REASONS[status]}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Date: {email.utils.formatdate(usegmt=True)}")
    lines.append("Server: socket-katas")
    lines.append("Connection: " + ("keep-alive" if keep_alive else "close"))
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def send_error(conn, status, method, keep_alive, extra=None):
    body = f"{status} {REASONS[status]}\n".encode("ascii")
    headers = {"Content-Type": "text/plain; charset=ascii", "Content-Length": len(body), **(extra or {})}
    send_response(conn, status, headers, keep_alive)
    if method != "HEAD":
        conn.sendall(body)


def send_file(conn, path, method, keep_alive):
    try:
        f = open(path, "rb")
    except OSError:
        send_error(conn, 404, method, keep_alive)
        return
    with f:
        size = os.fstat(f.fileno()).st_size
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        send_response(conn, 200, {"Content-Type": content_type, "Content-Length": size}, keep_alive)
        if method == "HEAD":
            return
        # Stream it: a 20 MB file never sits in memory whole. (conn.sendfile(f)
        # would do the same without copying through user space.)
        remaining = size
        while remaining:
            chunk = f.read(min(CHUNK, remaining))
            if not chunk:
                # The file shrank under us: the promised length cannot be kept.
                raise ConnectionAbortedError("file shorter than its Content-Length")
            conn.sendall(chunk)
            remaining -= len(chunk)


def handle(conn, root):
    """Answer requests on one connection, in order, until one of us closes it."""
    buf = bytearray()
    while True:
        try:
            head, buf = read_head(conn, buf)
            if head is None:
                return
            method, target, version, headers = parse_head(head)
            length = headers.get("content-length", "0")
            if not length.isdigit() or "transfer-encoding" in headers:
                raise BadRequest("request body we cannot delimit")
            if method in ("GET", "HEAD") and not target.startswith("/"):
                raise BadRequest("only origin-form targets (/path) are served")
        except BadRequest:
            # After garbage we cannot tell where the next request starts: close.
            send_error(conn, 400, "GET", keep_alive=False)
            return
        # GET and HEAD carry no body, but one may be sent anyway: skip it so
        # the next pipelined request starts where it should.
        length = int(length)
        while len(buf) < length:
            data = conn.recv(CHUNK)
            if not data:
                return
            buf += data
        del buf[:length]

        keep_alive = wants_keep_alive(version, headers)
        if method not in ("GET", "HEAD"):
            send_error(conn, 405, method, keep_alive, {"Allow": "GET, HEAD"})
        elif (path := resolve(root, target)) is None:
            send_error(conn, 404, method, keep_alive)
        else:
            send_file(conn, path, method, keep_alive)
        if not keep_alive:
            return


def serve_connection(conn, root):
    with conn:
        try:
            handle(conn, root)
            # Closing with unread bytes in the receive queue sends a RST, which
            # can destroy our last response before the client reads it. So send
            # our FIN first, then read whatever the client still sends.
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(LINGER)
            while conn.recv(CHUNK):
                pass
        except OSError:
            # Reset, vanished or idle too long: this connection only is over.
            pass


def serve(host, port, root):
    root = os.path.realpath(root)
    # Load the MIME table once, before threads race to load it lazily.
    mimetypes.init()
    # localhost is ::1 here: that is where curl found the server.
    host, family = "::1", socket.AF_INET6
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen()
        while True:
            conn, _peer = listener.accept()
            # Keep-alive lets a client hold a connection between requests, so
            # one blocking thread per connection keeps every client served.
            conn.settimeout(IDLE_TIMEOUT)
            threading.Thread(target=serve_connection, args=(conn, root), daemon=True).start()


def main():
    args = parse_args()
    # The grader stops your server with SIGTERM; exit quietly when it does.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    serve(args.host, args.port, args.root)


if __name__ == "__main__":
    main()
