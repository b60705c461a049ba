"""kata10's HTTP probe against canned servers: it reads what a correct
server sends (pipelined, chunked), points at the first byte that is not
HTTP, and reports short bodies and silence as outcomes, within its deadline."""

import socket
import threading
import time

import pytest

from grader.probes import http


@pytest.fixture
def canned():
    """canned(reply, close=True) -> port of a one-shot server that reads the
    request, sends ``reply`` and (optionally) closes."""
    listeners = []

    def start(reply: bytes, close: bool = True) -> int:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def serve():
            conn, _ = listener.accept()
            conn.recv(65536)
            conn.sendall(reply)
            if close:
                conn.close()
            else:
                time.sleep(2)
                conn.close()

        threading.Thread(target=serve, daemon=True).start()
        return listener.getsockname()[1]

    yield start
    for listener in listeners:
        listener.close()


def _ask(port, method="GET", timeout=2.0):
    with http.Conn("127.0.0.1", port, timeout) as conn:
        conn.send(http.request(method, "/"))
        first = conn.response(method, timeout=timeout)
        return first, conn.more(0.1)


def test_kata10_probe_reads_pipelined_responses(canned):
    port = canned(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    with http.Conn("127.0.0.1", port, 2.0) as conn:
        conn.send(http.request("GET", "/a") + http.request("GET", "/b"))
        first, second = conn.response(), conn.response()
    assert (first.status, first.body, first.framing) == (200, b"abc", "length")
    assert (second.status, second.body) == (404, b"")


def test_kata10_probe_decodes_chunked_bodies(canned):
    port = canned(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n")
    response, _ = _ask(port)
    assert (response.body, response.framing) == (b"abcde", "chunked")


def test_kata10_probe_points_at_the_first_bad_byte(canned):
    port = canned(b"HTTP/1.1 200 OK\r\nContent-Length 3\r\n\r\nabc")
    with pytest.raises(http.HttpError) as caught:
        _ask(port)
    lines = caught.value.caret()
    assert caught.value.kind == "malformed"
    assert lines[0] == "server> b'Content-Length 3\\r\\n'"
    assert lines[1].index("^") == lines[0].index(" 3")      # under the space where ':' belongs


def test_kata10_probe_reports_a_short_body(canned):
    port = canned(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
    with pytest.raises(http.HttpError) as caught:
        _ask(port)
    error = caught.value
    assert (error.kind, error.phase, error.received_body, error.expected_body) == ("eof", "body", 5, 10)


def test_kata10_probe_gives_up_on_silence_within_its_deadline(canned):
    port = canned(b"", close=False)
    start = time.monotonic()
    with pytest.raises(http.HttpError) as caught:
        _ask(port, timeout=0.3)
    assert caught.value.kind == "timeout"
    assert time.monotonic() - start < 1.5


def test_kata10_probe_reads_no_body_for_head(canned):
    port = canned(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    response, extra = _ask(port, method="HEAD")
    assert response.body == b"" and extra == b"hello"
