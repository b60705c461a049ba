"""Judging an echo: the lesson behind each way an echo goes wrong
(FEEDBACK.md's table), shared by every echo kata's checks."""

from __future__ import annotations

from grader.errors import Failure
from grader.probes import diff
from grader.probes.tcp import Exchange

RECV_LOOP = ("recv returns whatever has arrived so far, often less than was sent: "
             "loop on recv until it returns b'' and sendall each chunk")


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
