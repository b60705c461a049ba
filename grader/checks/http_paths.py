"""A file server never hands out a byte from outside its root, however the
path is dressed up: ``..`` segments, percent-encoded dots and slashes, an
absolute path, a NUL byte, or a symlink inside the root that points out.

Rules: the ``docroot`` fixture puts a secret file beside the root (never
under it) and two symlinks inside the root that lead to it. Each attempt is
raw bytes on a connection of its own (curl would tidy ``/../`` away; an
attacker does not). Allowed answers: 400 (RFC 9110 §15.5.1), 403 (§15.5.4)
or 404 (§15.5.5), and not one byte of the secret anywhere in the reply."""

from grader.checks._http import connect, explain, try_it
from grader.engine.check import check, fail
from grader.probes import diff, http

ALLOWED = (400, 403, 404)
SAFE_RECIPE = ("decode first (urllib.parse.unquote), refuse NUL, join with the root, resolve with os.path.realpath "
               "(it follows symlinks and removes '..'), then serve only if "
               "os.path.commonpath([root, path]) == root, with root itself a realpath")


def attempts(docroot, port: int) -> list[tuple[bytes, str]]:
    """(request target, what it tries) for every way out of the root."""
    outside = str(docroot.secret).encode()
    return [
        (b"/../secret.txt", "a '..' segment"),
        (b"/nested/../../secret.txt", "'..' segments after a real folder"),
        (b"/%2e%2e/secret.txt", "a percent-encoded '..'"),
        (b"/%2E%2E%2Fsecret.txt", "percent-encoded dots and slash"),
        (b"/nested/deeper/..%2f..%2f..%2fsecret.txt", "percent-encoded slashes between '..'"),
        (outside, "an absolute path"),
        (b"/%2F" + outside.lstrip(b"/"), "an absolute path behind an encoded slash"),
        (b"/escape/secret.txt", "a symlink inside the root that points to a folder outside"),
        (b"/secret-link.txt", "a symlink inside the root that points to a file outside"),
        (b"/../secret.txt%00.html", "a NUL byte after the path"),
        (f"http://127.0.0.1:{port}/../secret.txt".encode(), "an absolute-form target"),
    ]


def _leaked(secret: bytes, data: bytes) -> bool:
    """Any recognisable piece of the secret (its unique middle) in ``data``."""
    return secret[:24] in data or secret[11:35] in data or secret in data


@check("never serves a byte from outside the root: '..', %2e%2e, absolute paths, NUL, symlinks",
       hint=SAFE_RECIPE,
       timeout=40.0)
def test_never_serves_outside_the_root(server, clock, docroot):
    """A path bug hands a stranger every file the server can read: keys,
    passwords, the server's own source. Directory traversal (CWE-22) is the
    classic web-server vulnerability, and it comes in disguises."""
    for target, tries in attempts(docroot, server.port):
        sent = http.request("GET", target)
        asked = f"GET {target.decode('latin-1')}"
        conn = connect(server, clock)
        with conn:
            conn.send(sent)
            try:
                response = conn.response("GET", timeout=clock(2.0), body_cap=256 * 1024)
            except http.HttpError as exc:
                if _leaked(docroot.secret_body, exc.got + bytes(conn.buf)):
                    _leak(asked, tries, sent, docroot)
                raise explain(exc, f"{asked} ({tries})", server, sent=sent,
                              hint="refuse it with a complete response: 400, 403 or 404 and its Content-Length") \
                    from None
            seen = response.raw_head + response.body + conn.more(0.0)
        if _leaked(docroot.secret_body, seen):
            _leak(asked, tries, sent, docroot, response)
        if response.status not in ALLOWED:
            fail(f"{asked} ({tries}) answered {response.summary()}; a path outside the root must get "
                 "400, 403 or 404 (RFC 9110 §15.5.1, §15.5.4, §15.5.5)",
                 details=[try_it(sent), f"server> {response.raw_head[:300]!r}"])


def _leak(asked, tries, sent, docroot, response=None):
    got = f"{response.summary()} " if response else ""
    body = response.body if response else b""
    fail(f"{asked} ({tries}) answered {got}with the file outside the root ({docroot.secret.name}): anyone can "
         "read any file your server can read",
         details=[try_it(sent), f"outside the root: {docroot.secret}",
                  f"server> {response.raw_head[:200]!r}" if response else "server> (the secret's bytes)",
                  f"body: {diff.short(body, 80)}"])
