"""An HTTP/1.1 client made of raw bytes on a socket, for probing file servers.

Rules: every read has a deadline and a byte cap (a truncated response stalls
rather than errs; a runaway one floods). Requests are built byte by byte, so
a check can send what curl never would (``/../``, a request a byte at a time,
three requests in one segment). Responses are parsed strictly enough to
point at the first byte that is not HTTP (RFC 9112), and leniently where
real clients are (a bare LF ends a line, §2.2). Anything that goes wrong is
an ``HttpError`` carrying what did arrive; the checks turn it into words.
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass

HEAD_CAP = 64 * 1024
BODY_CAP = 1 << 20
NO_BODY_STATUS = (204, 304)
TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def request(method: str = "GET", target: str | bytes = "/", *, host: str = "grader", headers=(),
            version: str = "HTTP/1.1", body: bytes = b"") -> bytes:
    """The bytes of one request: request line, Host, ``headers``, empty line, body."""
    if isinstance(target, str):
        target = target.encode("utf-8")
    lines = [f"{method} ".encode() + target + f" {version}".encode(), f"Host: {host}".encode()]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@dataclass
class Response:
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    raw_head: bytes
    framing: str                 # length, chunked, close (until EOF) or none

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    @property
    def media_type(self) -> str | None:
        value = self.header("content-type")
        return value.split(";")[0].strip().lower() if value else None

    @property
    def closes(self) -> bool:
        """The server said it closes the connection after this response."""
        options = {t.strip().lower() for t in (self.header("connection") or "").split(",")}
        return "close" in options or (self.version == "HTTP/1.0" and "keep-alive" not in options)

    def summary(self) -> str:
        return f"{self.status} {self.reason}".strip()


class HttpError(Exception):
    """What went wrong reading a response. ``kind``: refused, timeout, eof,
    reset, malformed, too_large. ``got``: the bytes of this response that
    did arrive. ``phase``: head or body."""

    def __init__(self, kind: str, message: str, *, got: bytes = b"", phase: str = "head",
                 offset: int | None = None, expected_body: int | None = None, received_body: int = 0):
        super().__init__(message)
        self.kind, self.message, self.got, self.phase = kind, message, got, phase
        self.offset, self.expected_body, self.received_body = offset, expected_body, received_body

    def caret(self) -> list[str]:
        """The line holding the first byte that could not be parsed, and a caret under it."""
        if self.offset is None:
            return []
        return caret(self.got, self.offset, self.message)


def escape(data: bytes) -> list[str]:
    """Each byte as it appears inside a bytes literal (so a caret can count columns)."""
    out = []
    for b in data:
        if b == 0x5C:
            out.append("\\\\")
        elif b == 0x27:
            out.append("\\'")
        elif 32 <= b < 127:
            out.append(chr(b))
        else:
            out.append({9: "\\t", 10: "\\n", 13: "\\r"}.get(b, f"\\x{b:02x}"))
    return out


def caret(raw: bytes, offset: int, why: str, prefix: str = "server> ") -> list[str]:
    start = raw.rfind(b"\n", 0, offset) + 1 if offset > 0 else 0
    if offset < len(raw) and raw[offset:offset + 1] == b"\n" and offset > 0:
        start = raw.rfind(b"\n", 0, offset) + 1
    end = raw.find(b"\n", offset)
    end = len(raw) if end < 0 else end + 1
    line = raw[start:end][:120]
    cells = escape(line)
    column = len(prefix) + 2 + sum(len(c) for c in cells[:offset - start])
    shown = prefix + "b'" + "".join(cells) + "'" + ("…" if end - start > 120 else "")
    lines = [shown, " " * column + "^ " + why]
    following = raw[end:].split(b"\n", 1)[0]
    if following or end < len(raw):
        lines.append(prefix + repr(following[:120] + (b"\n" if end + len(following) < len(raw) else b"")))
    return lines


class Conn:
    """One client connection. Bytes that arrive past a response stay in the
    buffer for the next one (pipelining)."""

    def __init__(self, host: str, port: int, timeout: float, *, nodelay: bool = False):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock.connect((host, port))
        except ConnectionRefusedError:
            self.sock.close()
            raise HttpError("refused", f"connection refused on {host} port {port}") from None
        except (socket.timeout, TimeoutError):
            self.sock.close()
            raise HttpError("timeout", f"connecting did not complete within {timeout:.1f} s",
                            phase="connect") from None
        self.buf = bytearray()
        self.eof = False
        self.reset = False

    @property
    def local_port(self) -> int:
        return self.sock.getsockname()[1]

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes) -> bool:
        """False if the server had already closed or reset the connection."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            self.reset = True
            return False

    def dribble(self, data: bytes, gap: float) -> bool:
        """Send one byte per segment (TCP_NODELAY), ``gap`` seconds apart."""
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            if not self.send(data[i:i + 1]):
                return False
            time.sleep(gap)
        return True

    # -- reading ----------------------------------------------------------

    def _fill(self, deadline: float, cap: int) -> bool:
        """Read once more into the buffer; False at EOF or reset. Raises
        TimeoutError past the deadline."""
        if self.eof or self.reset:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(min(1 << 20, max(1, cap)))
        except (socket.timeout, TimeoutError):
            raise TimeoutError from None
        except (ConnectionResetError, BrokenPipeError):
            self.reset = True
            return False
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _ended(self, what: str, got: bytes, phase: str, **kw) -> HttpError:
        kind = "reset" if self.reset else "eof"
        verb = "reset" if self.reset else "closed"
        return HttpError(kind, f"the server {verb} the connection {what}", got=got, phase=phase, **kw)

    def response(self, method: str = "GET", timeout: float = 2.0, body_cap: int = BODY_CAP,
                 idle: float | None = None) -> Response:
        """Read one whole response (head, then the body its framing says)
        within ``timeout`` seconds; with ``idle``, a body that stops flowing
        for that long is given up on sooner (a stall, not a slow machine)."""
        deadline = time.monotonic() + timeout
        self._idle = idle
        head_end = None
        while head_end is None:
            head_end = re.search(rb"\r?\n\r?\n", self.buf)
            if head_end:
                break
            if len(self.buf) > HEAD_CAP:
                raise HttpError("too_large", f"no end of the headers in the first {HEAD_CAP} bytes",
                                got=bytes(self.buf[:HEAD_CAP]))
            try:
                more = self._fill(deadline, HEAD_CAP)
            except TimeoutError:
                raise HttpError("timeout", f"waited {timeout:.1f} s for "
                                + ("the rest of the headers" if self.buf else "a response"),
                                got=bytes(self.buf)) from None
            if not more:
                raise self._ended("inside the response's headers" if self.buf else "without a response",
                                  bytes(self.buf), "head")
        raw_head = bytes(self.buf[:head_end.end()])
        response = parse_head(raw_head)
        del self.buf[:head_end.end()]
        response.body = self._body(response, method, deadline, timeout, body_cap)
        return response

    def _body(self, response: Response, method: str, deadline: float, timeout: float, cap: int) -> bytes:
        raw_head = response.raw_head
        if method == "HEAD" or response.status < 200 or response.status in NO_BODY_STATUS:
            response.framing = "none"
            return b""
        te = (response.header("transfer-encoding") or "").lower()
        if te:
            if te.split(",")[-1].strip() != "chunked":
                raise HttpError("malformed", f"unknown Transfer-Encoding {te!r}", got=raw_head,
                                offset=raw_head.lower().find(b"transfer-encoding"))
            response.framing = "chunked"
            return self._chunked(raw_head, deadline, timeout, cap)
        lengths = {v.strip() for k, v in response.headers if k.lower() == "content-length"}
        if lengths:
            value = lengths.pop()
            at = raw_head.lower().find(b"content-length")
            if lengths or not value.isdigit():
                raise HttpError("malformed", "Content-Length must be one decimal number of bytes "
                                "(RFC 9110 §8.6)", got=raw_head, offset=at)
            size = int(value)
            response.framing = "length"
            if size > cap:
                raise HttpError("too_large", f"Content-Length {size} is more than the {cap} bytes expected",
                                got=raw_head, phase="body", expected_body=size)
            return self._exactly(size, raw_head, deadline, timeout)
        response.framing = "close"
        while not (self.eof or self.reset) and len(self.buf) <= cap:
            try:
                self._fill(deadline, cap + 1 - len(self.buf))
            except TimeoutError:
                raise HttpError("timeout", f"no Content-Length, and the connection was still open after "
                                f"{timeout:.1f} s", got=raw_head + bytes(self.buf), phase="body",
                                received_body=len(self.buf)) from None
        body = bytes(self.buf[:cap])
        del self.buf[:cap]
        return body

    def _exactly(self, size: int, raw_head: bytes, deadline: float, timeout: float) -> bytes:
        idle = getattr(self, "_idle", None)
        while len(self.buf) < size:
            stall = min(deadline, time.monotonic() + idle) if idle else deadline
            try:
                more = self._fill(stall, size - len(self.buf))
            except TimeoutError:
                waited = f"{idle:.1f} s" if idle and stall < deadline else f"the rest of {timeout:.1f} s"
                raise HttpError("timeout", f"received {len(self.buf)} of the {size} body bytes that "
                                f"Content-Length announced, then nothing for {waited}",
                                got=raw_head, phase="body", expected_body=size,
                                received_body=len(self.buf)) from None
            if not more:
                raise self._ended(f"after {len(self.buf)} of the {size} body bytes that Content-Length announced",
                                  raw_head, "body", expected_body=size, received_body=len(self.buf))
        body = bytes(self.buf[:size])
        del self.buf[:size]
        return body

    def _chunked(self, raw_head: bytes, deadline: float, timeout: float, cap: int) -> bytes:
        body = bytearray()
        while True:
            line = self._line(raw_head, deadline, timeout)
            size_text = line.split(b";")[0].strip()
            if not re.fullmatch(rb"[0-9A-Fa-f]+", size_text):
                raise HttpError("malformed", "a chunk size must be hexadecimal (RFC 9112 §7.1)",
                                got=line, offset=0, phase="body")
            size = int(size_text, 16)
            if size == 0:
                while self._line(raw_head, deadline, timeout).strip():
                    pass                      # trailer fields
                return bytes(body)
            if len(body) + size > cap:
                raise HttpError("too_large", f"chunked body larger than {cap} bytes", got=raw_head, phase="body")
            body += self._exactly(size, raw_head, deadline, timeout)
            self._line(raw_head, deadline, timeout)

    def _line(self, raw_head: bytes, deadline: float, timeout: float) -> bytes:
        while b"\n" not in self.buf:
            try:
                more = self._fill(deadline, 4096)
            except TimeoutError:
                raise HttpError("timeout", f"waited {timeout:.1f} s inside a chunked body",
                                got=raw_head, phase="body") from None
            if not more:
                raise self._ended("inside a chunked body", raw_head, "body")
        end = self.buf.index(b"\n") + 1
        line = bytes(self.buf[:end])
        del self.buf[:end]
        return line

    def more(self, wait: float, cap: int = 64 * 1024) -> bytes:
        """Whatever else arrives within ``wait`` seconds (the buffer included):
        bytes nobody asked for. Sets ``eof``/``reset`` if the server ends the
        connection meanwhile."""
        deadline = time.monotonic() + wait
        while len(self.buf) < cap:
            try:
                if not self._fill(deadline, cap - len(self.buf)):
                    break
            except TimeoutError:
                break
        extra = bytes(self.buf[:cap])
        del self.buf[:cap]
        return extra

    def ends_within(self, wait: float) -> str:
        """eof, reset, data (bytes arrived instead) or open, after up to ``wait`` s."""
        extra = self.more(wait, cap=1)
        if extra:
            self.buf[:0] = extra
            return "data"
        if self.reset:
            return "reset"
        return "eof" if self.eof else "open"


def parse_head(raw: bytes) -> Response:
    """Status line and header fields (RFC 9112 §4, §5), or HttpError(malformed)
    with the offset of the first byte that does not fit."""
    lines, starts, pos = [], [], 0
    for line in raw.split(b"\n"):
        starts.append(pos)
        pos += len(line) + 1
        lines.append(line[:-1] if line.endswith(b"\r") else line)
    status_line = lines[0]

    def bad(offset: int, why: str):
        return HttpError("malformed", why, got=raw, offset=offset)

    match = re.match(rb"HTTP/(\d)\.(\d) (\d{3})( (.*))?$", status_line)
    if not match:
        expect = b"HTTP/1.1 200 "
        at = next((i for i, (a, b) in enumerate(zip(status_line, expect))
                   if not (a == b or (chr(b).isdigit() and chr(a).isdigit()))), min(len(status_line), len(expect)))
        raise bad(at, "expected a status line 'HTTP/1.1 CODE REASON' (RFC 9112 §4)")
    version = f"HTTP/{match.group(1).decode()}.{match.group(2).decode()}"
    status = int(match.group(3))
    reason = (match.group(5) or b"").decode("latin-1")
    headers = []
    for line, start in zip(lines[1:], starts[1:]):
        if not line:
            break
        token = TOKEN.match(line)
        good = token.end() if token else 0
        if not good or line[good:good + 1] != b":":
            if good and line[good:].lstrip(b" \t").startswith(b":"):
                why = "no whitespace is allowed between a header name and its ':' (RFC 9112 §5.1)"
            elif good:
                why = "expected ':' after the header name (a header line is 'Name: value', RFC 9112 §5)"
            else:
                why = "expected a header name: letters, digits and !#$%&'*+-.^_`|~ (RFC 9110 §5.1)"
            raise bad(start + good, why)
        name, value = line[:good], line[good + 1:]
        headers.append((name.decode("ascii"), value.strip(b" \t").decode("latin-1")))
    return Response(version, status, reason, headers, b"", raw, "")

