"""An HTTP file server answers GET and HEAD for the files under its root:
200 with a Content-Length that counts the body's bytes and a Content-Type
that names its kind, the body byte for byte (20 MiB included), the same
headers and no body for HEAD, and 404 for what is not there.

Rules: every request goes on a connection of its own, so a server that
does not keep connections alive is judged by the connection checks, not
here; the files and their expected types come from the ``docroot`` fixture."""

from grader.checks._http import fetch, get, shown, try_it
from grader.engine.check import check, fail
from grader.errors import Failure
from grader.probes import diff, http

SMALL = ["index.html", "hello.txt", "utf8.txt", "image.png", "data.bin", "nested/deeper/notes.txt",
         "my notes.txt", "100% done.txt", "café.txt"]
LENGTH_HINT = ("Content-Length counts the bytes of the body: take it from the file (os.fstat(f.fileno()).st_size, "
               "or len() of the bytes you send), never from a decoded str")


def _judge_headers(response: http.Response, doc, asked: str, sent: bytes) -> None:
    details = [try_it(sent), f"server> {response.raw_head[:300]!r}"]
    if response.status != 200:
        hint = None
        if response.status == 404 and ("%" in doc.url):
            hint = "percent-decode the path before opening it (urllib.parse.unquote): %20 is a space, %25 a '%'"
        fail(f"{asked} answered {response.summary()}, expected 200 OK ({len(doc.body)} bytes)",
             hint=hint or "map the path to the file under --root and answer 200 OK with the file",
             details=details)
    length = response.header("content-length")
    if length is None:
        fail(f"{asked} answered 200 without a Content-Length header", hint=LENGTH_HINT, details=details)
    if length.strip() != str(len(doc.body)):
        fail(f"{asked}: Content-Length says {length.strip()}, the file has {len(doc.body)} bytes",
             hint=LENGTH_HINT, details=details)
    if response.media_type not in doc.types:
        fail(f"{asked}: Content-Type is {response.header('content-type')!r}, expected {' or '.join(doc.types)}",
             hint="mimetypes.guess_type(path)[0] names the type from the extension; "
                  "application/octet-stream when it cannot tell (RFC 9110 §8.3)", details=details)


@check("answers GET with 200, the file's exact bytes, Content-Length and Content-Type",
       hint="200 OK, Content-Length = the file's size in bytes, Content-Type from mimetypes, an empty line, "
            "then the file's bytes as they are on disk (open it in binary mode)")
def test_answers_get_with_the_file(server, clock, docroot):
    """A browser trusts these three together: the status says what happened,
    Content-Length where the body ends, Content-Type what to do with it."""
    targets = [("/", docroot.index)] + [(docroot.doc(name).url, docroot.doc(name)) for name in SMALL]
    for target, doc in targets:
        sent = http.request("GET", target)
        asked = f"GET {target}"
        try:
            response = get(server, clock, target, hint=LENGTH_HINT)
        except Failure as exc:
            if "Content-Length announced" in exc.message:
                exc.message += f" (the file has {len(doc.body)} bytes)"
            raise
        _judge_headers(response, doc, asked + (" (the root's index.html)" if target == "/" else ""), sent)
        if response.body != doc.body:
            fail(f"{asked}: the body differs from the file {doc.name}",
                 hint="send the file's bytes unchanged: open(path, 'rb'), no decoding, no newline translation",
                 details=[try_it(sent), *diff.describe(doc.body, response.body)])


@check("answers HEAD with the headers GET would send, and no body",
       hint="HEAD is GET without the body: the same status line and headers (Content-Length still the file's "
            "size), the empty line, then nothing")
def test_answers_head_without_body(server, clock, docroot):
    """Clients use HEAD to learn a file's size and type without fetching it;
    a body after a HEAD response is read as the start of the next response."""
    for name in ("hello.txt", "data.bin"):
        doc = docroot.doc(name)
        sent = http.request("HEAD", doc.url)
        response, conn = fetch(server, clock, doc.url, method="HEAD")
        with conn:
            _judge_headers(response, doc, f"HEAD {doc.url}", sent)
            extra = conn.more(clock(0.3))
        if extra:
            fail(f"HEAD {doc.url}: {len(extra)} bytes followed the headers, but a response to HEAD has no body "
                 "(RFC 9110 §9.3.2)", details=[try_it(sent), f"server> {diff.short(extra)}"])


@check("serves a 20 MiB file whole and exact",
       hint="loop until every byte is sent: sendall() (or socket.sendfile) on chunks of the file; one send() "
            "writes only what fits in the socket's buffer and returns how much that was",
       timeout=60.0)
def test_serves_a_large_file_exactly(server, clock, docroot):
    """Real files do not fit in one send: a server that ignores short writes
    serves small files perfectly and truncates every download that matters."""
    doc = docroot.large
    sent = http.request("GET", doc.url)
    response = get(server, clock, doc.url, base=30.0, idle=2.0, body_cap=len(doc.body) + 1)
    _judge_headers(response, doc, f"GET {doc.url}", sent)
    if response.body != doc.body:
        fail(f"GET {doc.url}: the body differs from the file", details=diff.describe(doc.body, response.body))


@check("answers 404 for a file that is not there",
       hint="when the path names no file under the root (or a folder without index.html), answer "
            "'404 Not Found' with a short body and its Content-Length")
def test_answers_404_for_missing_files(server, clock, docroot):
    """404 is how a client learns that a link is dead; a server that crashes
    or hangs instead leaves it waiting."""
    cases = [("/no-such-file.txt", (404,), "404 (RFC 9110 §15.5.5)"),
             ("/nested/no-such-page.html", (404,), "404 (RFC 9110 §15.5.5)"),
             ("/empty/", (403, 404), "404, or 403, for a folder without index.html (RFC 9110 §15.5.4-5)")]
    for target, allowed, expected in cases:
        sent = http.request("GET", target)
        response = get(server, clock, target)
        if response.status not in allowed:
            fail(f"GET {target} answered {shown(response)}, expected {expected}",
                 details=[try_it(sent), f"server> {response.raw_head[:300]!r}"])
