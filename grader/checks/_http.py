"""Talking HTTP to a learner's file server, and saying what went wrong in
the learner's words: what was sent, what came back (a caret under the first
byte that is not HTTP), what was expected, and the RFC section that says so.
Shared by the http_* checks."""

from __future__ import annotations

import time

from grader.errors import Failure
from grader.probes import diff, http, proc

STREAM_HINT = ("send the whole response: status line, headers, an empty line, then exactly Content-Length "
               "bytes of body (sendall, not send)")


def try_it(request: bytes) -> str:
    """A command that replays ``request`` by hand against the learner's server on port 9000."""
    text = request.decode("latin-1").replace("\\", "\\\\").replace("'", "'\\''")
    text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\0", "\\0").replace("%", "%%")
    return f"try it: start your server on port 9000, then: printf '{text}' | nc -q2 127.0.0.1 9000"


def connect(server, clock, base: float = 2.0, *, nodelay: bool = False) -> http.Conn:
    """A new connection. A server that closes its listening socket while it
    serves (judged by the descriptor checks) is given up to a second to
    listen again, so that one bug is not paid for by every check."""
    end = time.monotonic() + clock(1.0)
    for attempt in range(4):
        try:
            return http.Conn(server.host, server.port, clock(base), nodelay=nodelay)
        except http.HttpError as exc:
            server.require_alive(f"before the grader connected to {server.hostport}")
            if exc.kind == "refused" and attempt < 3 and _listening_again(server, end):
                continue
            what = "connection refused" if exc.kind == "refused" else exc.message
            raise Failure(f"{what} on {server.hostport}",
                          hint="the server is not listening (any more) on that address and port",
                          details=server.program.stderr_excerpt()) from None


def _listening_again(server, end: float) -> bool:
    """True once the server holds a listening socket on its port (at once if
    it already does), False if it has none by ``end``."""
    while proc.bound_socket(server.pid, "tcp", server.port) is None:
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
    return True


def explain(exc: http.HttpError, what: str, server, *, sent: bytes | None = None, hint: str | None = None) -> Failure:
    """One HttpError, said once: ``what`` names the request ("GET /hello.txt")."""
    details = [try_it(sent)] if sent is not None else []
    if sent is not None:
        details.append(f"grader> {diff.short(sent, 100)}")
    if exc.kind == "malformed":
        details += exc.caret()
        return Failure(f"{what}: the response is not valid HTTP: {exc.message}", details=details,
                       hint=hint or "each header line is 'Name: value\\r\\n'; the head ends with an empty line")
    if exc.got:
        details.append(f"server> {diff.short(exc.got, 200)}")
    if not server.alive:
        return Failure(server.program.death_notice(f"while answering {what}"),
                       details=details + server.program.stderr_excerpt())
    if exc.phase == "body" and exc.expected_body is not None:
        return Failure(f"{what}: {exc.message}", details=details, hint=hint or STREAM_HINT)
    if exc.kind in ("eof", "reset") and not exc.got:
        return Failure(f"{what}: {exc.message}",
                       hint=hint or "every request gets a response, even one you refuse (400, 404, 405)",
                       details=details + server.program.stderr_excerpt())
    return Failure(f"{what}: {exc.message}", hint=hint or STREAM_HINT,
                   details=details + server.program.stderr_excerpt())


def fetch(server, clock, target: str | bytes, *, method: str = "GET", headers=(), base: float = 2.0,
          body_cap: int = http.BODY_CAP, raw: bytes | None = None, idle: float | None = None,
          hint: str | None = None) -> tuple[http.Response, http.Conn]:
    """One request on a new connection; the response, and the connection
    (still open, for whatever a check wants to see next: close it)."""
    sent = raw if raw is not None else http.request(method, target, headers=headers)
    asked = what(sent)
    conn = connect(server, clock)
    try:
        conn.send(sent)
        response = conn.response(method, timeout=clock(base), body_cap=body_cap,
                                 idle=clock(idle) if idle else None)
    except http.HttpError as exc:
        conn.close()
        raise explain(exc, asked, server, sent=sent, hint=hint) from None
    return response, conn


def get(server, clock, target, **kw) -> http.Response:
    response, conn = fetch(server, clock, target, **kw)
    conn.close()
    return response


def what(sent: bytes) -> str:
    """The request line, for messages: ``GET /hello.txt``."""
    line = sent.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    words = line.decode("latin-1").split(" ")
    return " ".join(words[:2]) if len(words) >= 2 else repr(line)


def shown(response: http.Response) -> str:
    """``404 Not Found`` and its length, for messages."""
    return f"{response.summary()} ({len(response.body)} bytes of body)"


def answers_for(body: bytes, length: str | None, doc) -> bool:
    """Is ``body`` the answer for ``doc``? Exactly its bytes; or, when the
    Content-Length is not the file's size (judged by the GET check), the
    bytes that length let through, which agree with the file's."""
    if body == doc.body:
        return True
    if length is not None and length.strip() != str(len(doc.body)):
        n = min(len(body), len(doc.body))
        return n > 0 and body[:n] == doc.body[:n]
    return False
