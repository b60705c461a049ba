"""HTTP/1.1 connections: kept open between requests by default, answered in
order when requests are pipelined, closed when the client says
``Connection: close`` (or speaks HTTP/1.0), never blocking a second client,
and costing no descriptor once they end.

Rules: keep-alive is judged by Python's http.client, the way real clients
reuse a connection (they read exactly Content-Length bytes, then send the
next request); everything else by raw bytes. A server may close a connection
it announced it would close (``Connection: close``): a pipelining client
then resends the rest on a new one (RFC 9112 §9.3.2), and so does this one."""

import socket
import time
from http import client as http_client

from grader.checks._http import answers_for, connect, explain, fetch, shown, try_it
from grader.checks.descriptors import _explain, _quiet_table, _settled_table
from grader.engine.check import check, fail
from grader.errors import Failure
from grader.probes import diff, http, proc, tcp

KEEP_ALIVE = ["hello.txt", "index.html", "nested/deeper/notes.txt", "hello.txt"]
PIPELINE = ["hello.txt", "nested/deeper/notes.txt", "index.html"]
KEEP_ALIVE_HINT = ("in HTTP/1.1 a connection stays open after a response (RFC 9112 §9.3): loop back and read the "
                   "next request on the same socket until the client closes it or sends 'Connection: close'")


@check("keeps the connection open for several requests (HTTP/1.1 keep-alive)",
       hint=KEEP_ALIVE_HINT)
def test_keeps_the_connection_open(server, clock, docroot):
    """Opening a TCP connection costs a round trip (and TLS several); a page
    with thirty images fetched over one connection loads far faster."""
    client = http_client.HTTPConnection(server.host, server.port, timeout=clock(2.0))
    client.sock = connect(server, clock).sock   # refusals said in our words; http.client takes it from here
    first_port = None
    try:
        for n, name in enumerate(KEEP_ALIVE, 1):
            doc = docroot.doc(name)
            step = f"request {n} of {len(KEEP_ALIVE)} (GET {doc.url})"
            try:
                client.request("GET", doc.url)
                if first_port is None:
                    first_port = client.sock.getsockname()[1]
                elif client.sock.getsockname()[1] != first_port:
                    raise RuntimeError("http.client opened a second connection unasked")
                response = client.getresponse()
                length = response.getheader("Content-Length")
                if length is None or not length.strip().isdigit() or int(length) > 1 << 20:
                    fail(f"{step}: the response has Content-Length {length!r}, so a client cannot tell where it "
                         "ends without the server closing the connection", hint=KEEP_ALIVE_HINT)
                body = response.read()
            except (http_client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                server.require_alive(f"during {step}")
                fail(f"{step}: the server had closed the connection after {n - 1} response(s), without saying "
                     "'Connection: close'", details=[f"http.client: GET {docroot.doc(k).url} ok"
                                                     for k in KEEP_ALIVE[:n - 1]])
            except (socket.timeout, TimeoutError):
                fail(f"{step}: no complete response within {clock(2.0):.1f} s on a connection that had already "
                     f"served {n - 1} request(s)",
                     hint="after a response, read the next request from the same socket (keep a buffer)")
            except http_client.HTTPException as exc:
                fail(f"{step}: Python's http.client could not read the response: {type(exc).__name__}: {exc}",
                     hint="a response is a status line, headers, an empty line and exactly Content-Length bytes")
            if response.status != 200 or not answers_for(body, length, doc):
                fail(f"{step} on a kept-alive connection was answered {response.status} with "
                     f"{len(body)} bytes, expected 200 and the file's {len(doc.body)} bytes",
                     details=diff.describe(doc.body, body))
            if response.will_close:
                said = response.getheader("Connection") or response.version
                fail(f"{step} was answered with 'Connection: {said}': the server closes every connection "
                     "although the client did not ask it to", hint=KEEP_ALIVE_HINT)
    finally:
        client.close()


@check("answers pipelined requests in order",
       hint="several requests can arrive in one recv: keep the bytes after the first request's empty line in "
            "your buffer, answer that request, then parse the next one from the buffer before calling recv again")
def test_answers_pipelined_requests_in_order(server, clock, docroot):
    """Clients may send requests without waiting for answers (pipelining);
    the answers must come back in the order the requests went out, since
    nothing else says which is which."""
    docs = [docroot.doc(name) for name in PIPELINE]
    answered, reconnects = 0, 0
    transcript = []
    while answered < len(docs):
        batch = b"".join(http.request("GET", d.url) for d in docs[answered:])
        transcript.append(f"grader> {len(docs) - answered} requests in one segment: "
                          + ", ".join(f"GET {d.url}" for d in docs[answered:]))
        with connect(server, clock) as conn:
            conn.send(batch)
            while answered < len(docs):
                doc = docs[answered]
                try:
                    response = conn.response("GET", timeout=clock(2.0))
                except http.HttpError as exc:
                    if exc.kind == "timeout" and not exc.got:
                        fail(f"answered {answered} of {len(docs)} pipelined requests, then nothing for "
                             f"{clock(2.0):.1f} s", details=transcript)
                    after = None
                    if exc.kind == "malformed" and answered:
                        after = ("the bytes before this status line belong to the previous response: its body "
                                 "was longer than its Content-Length said (count bytes, not characters)")
                    raise explain(exc, f"pipelined request {answered + 1} of {len(docs)} (GET {doc.url})",
                                  server, sent=batch, hint=after) from None
                transcript.append(f"server> {response.summary()}, {len(response.body)} bytes")
                length = response.header("content-length")
                if not answers_for(response.body, length, doc):
                    other = next((d.url for d in docs if answers_for(response.body, length, d)), None)
                    fail(f"pipelined request {answered + 1} (GET {doc.url}) was answered with "
                         + (f"the body of {other}: out of order" if other else
                            f"{shown(response)}, not the file's {len(doc.body)} bytes"),
                         details=transcript + diff.describe(doc.body, response.body))
                answered += 1
                if response.closes and answered < len(docs):
                    # Announced: the rest goes again on a new connection.
                    if conn.ends_within(clock(1.0)) == "open":
                        fail(f"response {answered} said 'Connection: close' but the connection stayed open",
                             details=transcript)
                    reconnects += 1
                    break
        if reconnects > len(docs):
            raise RuntimeError("pipelining kept reconnecting")


@check("closes the connection after answering 'Connection: close' (and HTTP/1.0)",
       hint="when the request carries 'Connection: close' (or is HTTP/1.0 without 'Connection: keep-alive'), "
            "send the response and then close the socket (RFC 9112 §9.6)")
def test_honours_connection_close(server, clock, docroot):
    """A client that says it is done must not be left holding an open
    connection, and neither must the server: both waste a descriptor."""
    doc = docroot.doc("hello.txt")
    for version, headers, said in (("HTTP/1.1", [("Connection", "close")], "Connection: close"),
                                   ("HTTP/1.0", [], "an HTTP/1.0 request without keep-alive")):
        sent = http.request("GET", doc.url, headers=headers, version=version)
        response, conn = fetch(server, clock, doc.url, raw=sent)
        with conn:
            # Stray bytes after the body are a framing fault, judged by the
            # GET and HEAD checks; here only the close counts.
            conn.more(clock(1.0))
        if not (conn.eof or conn.reset):
            fail(f"after answering {said}, the server kept the connection open for {clock(1.0):.1f} s",
                 details=[try_it(sent), f"server> {response.raw_head[:200]!r}"])


@check("answers a second client while a first one has sent only half a request",
       hint="serve each connection in its own thread (or with select/epoll): a blocking recv on one client must "
            "not stop the accept loop from serving the next")
def test_serves_a_second_client_meanwhile(server, clock, docroot):
    """Browsers open several connections and keep them open; slow or idle
    clients are the norm. A server that serves one connection at a time is
    stuck behind whichever client is slowest (or never finishes)."""
    doc = docroot.doc("hello.txt")
    half = http.request("GET", doc.url)[:20]
    with connect(server, clock) as first:
        first.send(half)
        if not tcp.wait_accepted(lambda: proc.tree_connections(server.pid), first.local_port, clock(2.0)):
            fail(f"the server did not accept a first connection within {clock(2.0):.1f} s")
        start = time.monotonic()
        try:
            response, conn = fetch(server, clock, doc.url, base=1.0)
        except Failure as exc:
            elapsed = time.monotonic() - start
            if exc.message.startswith("connection refused"):
                fail(f"a second client was refused while a first client had sent only {half!r}: the server "
                     "was not listening while it served the first", details=[f"second client: {exc.message}"])
            if elapsed >= clock(1.0) * 0.9:
                fail(f"a second client got no answer within {clock.explain(elapsed, 1.0)} while a first client "
                     f"had sent only {half!r}", details=[f"second client: {exc.message}"])
            raise
        conn.close()
        if response.status != 200:
            fail(f"the second client's GET {doc.url} was answered {shown(response)}, expected 200")


CONNECTIONS = 300


@check(f"holds no more descriptors after {CONNECTIONS} connections than before",
       hint="close the connected socket (and the file) when a connection ends: a `with conn:` and a "
            "`with open(...)` do it even on errors",
       timeout=60.0)
def test_closes_every_connection(server, clock, docroot):
    """A server that leaks one descriptor per connection dies after about a
    thousand clients with "Too many open files" (the RLIMIT_NOFILE limit)."""
    doc = docroot.doc("hello.txt")
    fetch(server, clock, doc.url)[1].close()    # whatever the server opens lazily, opened now
    before = _quiet_table(server, clock)
    for n in range(CONNECTIONS):
        # Half the clients say goodbye in the request, half just leave.
        headers = [("Connection", "close")] if n % 2 else []
        response, conn = fetch(server, clock, doc.url, headers=headers, base=3.0)
        conn.close()
        if response.status != 200:
            fail(f"connection {n + 1} of {CONNECTIONS} was answered {shown(response)}")
    after = _settled_table(server, before, clock(2.0))
    if after != before:
        grown = len(after) - len(before)
        details = _explain(before, after)
        listener = proc.bound_socket(server.pid, "tcp", server.port)
        fd = listener[1].fd if listener else None
        if fd in before and before.get(fd) != after.get(fd):
            details.append(f"fd {fd}, the listening socket, is not the one it was: the server closed its "
                           "listening socket and opened another")
        fail(f"after {CONNECTIONS} connections came and went, the server holds {len(after)} descriptors, "
             f"{len(before)} before" + (f" ({grown:+d})" if grown else " (same count, different files)"),
             details=details)
