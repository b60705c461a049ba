"""Judging an echo: the lesson behind each way an echo goes wrong
(FEEDBACK.md's table), shared by every echo kata's checks."""

from __future__ import annotations

import socket

from grader.errors import Failure
from grader.probes import diff, tcp
from grader.probes.tcp import Exchange

RECV_LOOP = ("recv returns whatever has arrived so far, often less than was sent: "
             "loop on recv until it returns b'' and sendall each chunk")


def greets(params) -> bool:
    """A greeting server (kata9, ``greeting = true`` in its params) sends one
    line of its own first; the echo checks read it and judge what follows."""
    return bool(params.get("greeting", False))


def connect(server, clock, base: float = 2.0) -> socket.socket:
    """A connection to the server, or a Failure saying in the learner's words
    why there is none (refused, or no handshake within the deadline)."""
    try:
        return tcp.connect(server.host, server.port, clock(base))
    except ConnectionRefusedError:
        server.require_alive(f"before the grader connected to {server.hostport}")
        raise Failure(f"connection refused on {server.hostport}",
                      hint="the server is not listening (any more) on that address and port",
                      details=server.program.stderr_excerpt()) from None
    except (socket.timeout, TimeoutError):
        raise Failure(f"connecting to {server.hostport} did not complete within {clock(base):.1f} s",
                      hint="the server's listen backlog is full or it stopped accepting") from None


def try_it(server, shell: str) -> str:
    """A command the learner can rerun by hand against their own server."""
    return f"try it: start your server on port 9000, then: {shell}"


def judge(ex: Exchange, payload: bytes, server, *, what: str, clock, timeout_base: float,
          need_eof: bool = False, shell: str | None = None) -> None:
    """Raise a Failure naming the first thing wrong with ``ex``; return if it
    is an exact echo. How the connection ended is judged by the teardown
    checks, not here (``need_eof`` asks for it), so one bug costs one check."""
    details = []
    if shell:
        details.append(try_it(server, shell))
    got = ex.data
    if ex.refused:
        raise Failure(f"connection refused on {server.hostport} while sending {what}",
                      hint="the server is not listening (any more) on that address and port",
                      details=details + server.program.stderr_excerpt())
    if ex.timed_out and ex.phase == "connect":
        raise Failure(f"connecting to {server.hostport} did not complete within {clock(timeout_base):.1f} s",
                      hint="the server's listen backlog is full or it stopped accepting", details=details)
    if ex.phase == "greeting":
        if ex.timed_out:
            how = f"waited {clock(timeout_base):.1f} s"
        elif ex.reset or ex.eof:
            how = f"then the server {'reset' if ex.reset else 'closed'} the connection"
        else:
            how = "no newline in the first 256 bytes"
        raise Failure(f"{what}: expected a greeting line first, got {diff.short(got) if got else 'nothing'} ({how})",
                      hint="send the one-line greeting (ADDR PORT\\n) as soon as accept() returns, then echo",
                      details=details)
    if got != payload[:len(got)] or len(got) > len(payload):
        lines = diff.describe(payload, got)
        if len(got) > len(payload) and got[:len(payload)] == payload:
            raise Failure(f"{what}: received {len(got) - len(payload)} bytes more than were sent",
                          hint="send back exactly the bytes received: no greeting, prefix or extra newline",
                          details=details + [f"extra bytes: {diff.short(got[len(payload):])}"])
        raise Failure(f"{what}: the echo differs from what was sent", hint=RECV_LOOP,
                      details=details + lines)
    if len(got) < len(payload):
        short = f"received {len(got)} of {len(payload)} bytes"
        if ex.reset:
            raise Failure(f"{what}: the connection was reset after {short}",
                          hint="a RST comes from close() with unread data in the receive queue, or SO_LINGER 0: "
                               "read until recv returns b'' before closing",
                          details=details + diff.describe(payload, got))
        if ex.eof:
            raise Failure(f"{what}: the server closed the connection after {short}",
                          hint="closed early, or one recv was treated as the whole message: " + RECV_LOOP,
                          details=details + diff.describe(payload, got))
        phase = "the first byte" if not got else "the rest of the reply"
        raise Failure(f"{what}: {short}, then waited {clock(timeout_base):.1f} s for {phase}",
                      hint="echo every chunk as it arrives, and keep reading until the client's end of stream",
                      details=details)
    if need_eof and not ex.eof:
        if ex.reset:
            raise Failure(f"{what}: all bytes came back, then the connection was reset instead of closed",
                          hint="close the connected socket only after recv returned b'' (no SO_LINGER 0)",
                          details=details)
        raise Failure(f"{what}: all bytes came back, but the server never closed the connection "
                      f"after the client's end of stream (waited {clock(timeout_base):.1f} s)",
                      hint="when recv returns b'' the client is done: close the connected socket",
                      details=details)
