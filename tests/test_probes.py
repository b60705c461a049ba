"""The probes, tested against tiny servers of known behaviour: a probe that
cannot tell a FIN from a RST, or a short echo from a whole one, would make
every check built on it lie."""

import io
import socket
import struct
import threading

import pytest

from grader.probes import diff, tcp, wire
from grader.runner.output import OutputTail


def _serve_once(handler):
    """A one-connection server on 127.0.0.1 running ``handler(conn)``."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run():
        with listener:
            conn, _ = listener.accept()
            handler(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return port, thread


def _echo_all(conn):
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def _echo_then_reset(conn):
    while data := conn.recv(65536):
        conn.sendall(data)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _one_recv(conn):
    with conn:
        conn.sendall(conn.recv(1000))


def test_exact_echo_ends_with_eof():
    port, t = _serve_once(_echo_all)
    ex = tcp.echo_exchange("127.0.0.1", port, b"x" * 100_000, timeout=5, settle=None)
    t.join(2)
    assert ex.data == b"x" * 100_000 and ex.eof and not ex.reset


def test_short_echo_is_seen_as_short():
    port, t = _serve_once(_one_recv)
    ex = tcp.echo_exchange("127.0.0.1", port, b"y" * 50_000, timeout=5, settle=None)
    t.join(2)
    assert len(ex.data) <= 1000 and (ex.eof or ex.reset)


def test_refused_is_reported_not_raised():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ex = tcp.echo_exchange("127.0.0.1", port, b"hi", timeout=2)
    assert ex.refused


needs_raw = pytest.mark.skipif(wire.available() is not None, reason=str(wire.available()))


@needs_raw
@pytest.mark.parametrize("handler, ending", [(_echo_all, wire.FIN), (_echo_then_reset, wire.RST)])
def test_tap_tells_fin_from_rst(handler, ending):
    port, t = _serve_once(handler)
    with wire.Tap(port) as tap:
        ex = tcp.echo_exchange("127.0.0.1", port, b"z" * 10_000, timeout=5, settle=None)
        segments = tap.server_teardown(ex.local_port, 2.0)
    t.join(2)
    from_server = [s for s in segments if s.sport == port]
    assert any(s.flags & ending for s in from_server)
    other = wire.RST if ending == wire.FIN else wire.FIN
    assert not any(s.flags & other for s in from_server)
    # Each packet once, not twice (lo shows outgoing and incoming copies).
    syns = [s for s in segments if s.flags == wire.SYN]
    assert len(syns) == 1


@needs_raw
def test_syn_probe_gets_syn_ack_from_a_listener():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        assert wire.syn_probe("127.0.0.1", listener.getsockname()[1], timeout=1.0) == "SA"


def test_diff_points_at_the_first_differing_byte():
    lines = diff.describe(b"hello world", b"hello there")
    assert "offset 6" in lines[0]
    assert diff.describe(b"same", b"same") == []
    big = diff.describe(b"a" * 10_000, b"a" * 9_000)
    assert "offset 9000" in big[0] and any("sha256" in line for line in big)


def test_output_tail_is_bounded():
    stream = io.BytesIO(b"line\n" * 100_000)
    tail = OutputTail(stream, limit=1024)
    tail.join(2)
    assert tail.total == 500_000 and tail.flooded
    assert len(tail.text()) <= 1024 and tail.last_lines(1) == ["line"]
