"""An HTTP server reads requests from a byte stream, not from recv() calls:
it understands a request that arrives a byte at a time, answers 400 to one
it cannot parse, and 405 (with Allow) or 501 to a method it does not serve.

Rules: each request goes on a connection of its own; the allowed answers
are named with the RFC 9110/9112 section that requires them."""

from grader.checks._http import answers_for, connect, explain, fetch, shown, try_it
from grader.engine.check import check, fail
from grader.probes import diff, http

MALFORMED = [
    (b"GARBAGE\r\n\r\n", "a request line that is one word", "RFC 9112 §3"),
    (b"GET /hello.txt\r\nHost: grader\r\n\r\n", "a request line without an HTTP version", "RFC 9112 §3"),
    (b"GET /hello.txt FOO/1.1\r\nHost: grader\r\n\r\n", "a version that is not HTTP/x.y", "RFC 9112 §2.3"),
    (b"GET /hello.txt HTTP/1.1\r\nHost grader\r\n\r\n", "a header line without ':'", "RFC 9112 §5"),
    (b"GET /hello.txt HTTP/1.1\r\nHost : grader\r\n\r\n", "whitespace between a header name and ':'",
     "RFC 9112 §5.1: the server MUST answer 400"),
]

OTHER_METHODS = [
    http.request("DELETE", "/hello.txt"),
    http.request("PUT", "/hello.txt", headers=[("Content-Length", "0")]),
    http.request("POST", "/hello.txt", headers=[("Content-Length", "0")]),
    http.request("BREW", "/"),
]


@check("answers 400 Bad Request to a malformed request line or header",
       hint="check the request line is exactly METHOD SP TARGET SP HTTP/x.y and every header line is "
            "'Name: value' (no space before ':'); answer '400 Bad Request' otherwise, then close")
def test_answers_400_to_malformed_requests(server, clock):
    """A server that guesses at garbage is a server that can be confused on
    purpose (request smuggling); 400 tells a broken client what it did."""
    for sent, flaw, rfc in MALFORMED:
        response, conn = fetch(server, clock, b"", raw=sent,
                               hint="answer every request, even garbage: '400 Bad Request' with a Content-Length")
        conn.close()
        if response.status != 400:
            fail(f"sent {flaw}, the server answered {shown(response)}, expected 400 Bad Request ({rfc})",
                 details=[try_it(sent), f"grader> {sent!r}", f"server> {response.raw_head[:200]!r}"])


@check("answers 405 (with Allow) or 501 to methods other than GET and HEAD",
       hint="for any other method answer '405 Method Not Allowed' with an 'Allow: GET, HEAD' header "
            "(or '501 Not Implemented')")
def test_answers_405_or_501_to_other_methods(server, clock):
    """A file server that treats DELETE or POST like GET tells clients their
    change succeeded when nothing happened."""
    for sent in OTHER_METHODS:
        method = sent.split(b" ", 1)[0].decode()
        response, conn = fetch(server, clock, b"", raw=sent)
        conn.close()
        details = [try_it(sent), f"server> {response.raw_head[:300]!r}"]
        if response.status == 405:
            allow = response.header("allow")
            if allow is None or "GET" not in {m.strip().upper() for m in allow.split(",")}:
                fail(f"{method} answered 405 without an Allow header naming GET "
                     f"(Allow: {allow!r}); RFC 9110 §15.5.6: a 405 MUST list the allowed methods",
                     hint="add 'Allow: GET, HEAD' to the 405 response", details=details)
        elif response.status != 501:
            fail(f"{method} {sent.split(b' ')[1].decode()} answered {shown(response)}, expected 405 Method Not "
                 "Allowed with Allow (RFC 9110 §15.5.6) or 501 Not Implemented (§15.6.2)", details=details)


@check("understands a request that arrives a byte at a time",
       hint="recv returns whatever has arrived, possibly one byte: append to a buffer and parse only once it "
            "holds the empty line (b'\\r\\n\\r\\n')")
def test_understands_a_request_a_byte_at_a_time(server, clock, docroot):
    """TCP delivers a stream, not messages: slow links, proxies and Nagle's
    algorithm split requests anywhere. One recv is not one request."""
    doc = docroot.doc("hello.txt")
    sent = http.request("GET", doc.url)
    with connect(server, clock, nodelay=True) as conn:
        # The first byte alone, then a pause long enough for any server to
        # wake up on it, then the rest one byte per segment.
        if not (conn.dribble(sent[:1], 0.05) and conn.dribble(sent[1:], 0.003)):
            fail(f"sending GET {doc.url} a byte at a time: the server closed the connection before the request "
                 "was complete", details=[try_it(sent)])
        try:
            response = conn.response("GET", timeout=clock(2.0))
        except http.HttpError as exc:
            raise explain(exc, f"GET {doc.url} sent a byte at a time", server, sent=sent) from None
    if response.status != 200 or not answers_for(response.body, response.header("content-length"), doc):
        fail(f"GET {doc.url} sent a byte at a time was answered {shown(response)}, expected 200 with the "
             f"file's {len(doc.body)} bytes", details=[try_it(sent), f"server> {response.raw_head[:200]!r}",
                                                       *diff.describe(doc.body, response.body)])
