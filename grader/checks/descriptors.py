"""Sockets are files: each connection costs the server a descriptor until it
closes it. These checks read the server's descriptor table in /proc."""

import time

from grader.checks._echo import connect, greets
from grader.engine.check import check, fail
from grader.probes import proc, tcp

CONNECTIONS = 300


@check("keeps its listening socket and each connected socket apart",
       hint="accept() returns a NEW socket for the client: serve that one, and keep the listening socket "
            "open for the next client")
def test_keeps_listening_and_connected_apart(server, clock):
    """The listening socket only hands out connections; each connection is its
    own descriptor on the same port. Closing or reusing the wrong one is the
    most common first-server bug."""
    with connect(server, clock) as sock:
        client_port = sock.getsockname()[1]
        tcp.wait_accepted(lambda: proc.tree_connections(server.pid), client_port, clock(2.0))
        conns = proc.tree_connections(server.pid, "tcp")
        listeners = {c.fd for _, c in conns if c.status == "LISTEN" and c.laddr.port == server.port}
        connected = {c.fd for _, c in conns if c.raddr and c.raddr.port == client_port}
        if not listeners:
            fail("while a client was connected, the server held no listening socket: it closed its "
                 "listening socket after accept()", hint="close only the connected socket when a client leaves")
        if not connected:
            fail("while a client was connected, the server held no socket for it",
                 hint="keep the socket accept() returned until the client is done")


def _table(pid):
    return proc.fd_table(pid)


def _quiet_table(server, clock):
    """The descriptor table once no client is connected any more."""
    end = time.monotonic() + clock(1.0)
    while time.monotonic() < end:
        if not any(c.raddr for _, c in proc.tree_connections(server.pid)):
            break
        time.sleep(0.01)
    return _table(server.pid)


def _settled_table(server, before: dict, timeout: float) -> dict:
    """The descriptor table once it is back to ``before``, or as it stands
    after ``timeout`` seconds (closing a socket takes the server a moment)."""
    end = time.monotonic() + timeout
    after = _table(server.pid)
    while after != before and time.monotonic() < end:
        time.sleep(0.02)
        after = _table(server.pid)
    return after


def _explain(before: dict, after: dict) -> list[str]:
    added = {fd: t for fd, t in after.items() if before.get(fd) != t}
    gone = {fd: t for fd, t in before.items() if after.get(fd) != t}
    lines = []
    for label, table in (("now open", added), ("gone", gone)):
        if table:
            kinds = {}
            for target in table.values():
                kind = target.split(":[")[0] if ":[" in target else target
                kinds[kind] = kinds.get(kind, 0) + 1
            summary = ", ".join(f"{n} × {k}" for k, n in sorted(kinds.items()))
            lines.append(f"{label}: {summary} (fds {', '.join(map(str, sorted(table)[:8]))}"
                         f"{' …' if len(table) > 8 else ''})")
    return lines


@check(f"holds no more descriptors after {CONNECTIONS} connections than before",
       hint="close the connected socket when its client leaves (a `with conn:` block does it even on errors)",
       timeout=60.0)
def test_closes_every_connected_socket(server, clock, rng, params):
    """A server that leaks one descriptor per client dies after about a
    thousand clients with "Too many open files" (the RLIMIT_NOFILE limit)."""
    # A first connection settles whatever the server opens lazily.
    greeting = greets(params)
    tcp.echo_exchange(server.host, server.port, b"warm-up\n", timeout=clock(3.0), settle=None, greeting=greeting)
    before = _quiet_table(server, clock)
    for n in range(CONNECTIONS):
        ex = tcp.echo_exchange(server.host, server.port, b"connection %d\n" % n, timeout=clock(3.0), settle=0,
                               greeting=greeting)
        if ex.data != b"connection %d\n" % n:
            server.require_alive(f"during connection {n + 1} of {CONNECTIONS}")
            fail(f"connection {n + 1} of {CONNECTIONS} did not get its echo "
                 f"({'refused' if ex.refused else 'reset' if ex.reset else 'timed out' if ex.timed_out else 'short'})",
                 hint="serve every client until its end of stream, then close its socket")
    after = _settled_table(server, before, clock(1.0))
    if after != before:
        grown = len(after) - len(before)
        fail(f"after {CONNECTIONS} connections came and went, the server holds {len(after)} descriptors, "
             f"{len(before)} before" + (f" ({grown:+d})" if grown else " (same count, different sockets)"),
             details=_explain(before, after))
