"""Judging a learner's client from outside: what it printed, what it said on
stderr and how it ended, shared by the client katas' checks (kata2, kata4).

Rule: a client that is dead when a check looks is said to be dead once, with
its exit status and last stderr line (the untouched stub: "not implemented
yet"); a live client that printed the wrong thing is shown the difference; a
live client that printed nothing is told how long the grader waited."""

from __future__ import annotations

from grader.errors import Failure
from grader.probes import diff

SERVER_TCP = "python solutions/kata1/server.py --host 127.0.0.1 --port 9000 &"
SERVER_UDP = "python solutions/kata3/server.py --host 127.0.0.1 --port 9000 &"


def try_it(server: str, command: str) -> str:
    """A line the learner can run by hand (FEEDBACK.md: show the exchange)."""
    return f"try it: {server} then: {command}" if server else f"try it: {command}"


FAMILY_HINT = ("take the family from the address: AF_INET6 when --host contains ':' "
               "(socket.create_connection and socket.getaddrinfo do it for you)")


def typed_lines(typed: list[bytes]) -> list[str]:
    return [f"grader typed> {line!r}" for line in typed]


def ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = f.read().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def conversation(run, peer, timeout: float, index: int = 0):
    """The ``index``-th connection the peer accepted, once the client made it
    (None if it did not within ``timeout``, or died first)."""
    if run.wait_until(lambda: len(peer.conversations) > index, timeout):
        return peer.conversations[index]
    return None


def require_conversation(run, peer, timeout: float, *, index: int = 0, prefix: str = "", hint=None):
    """The ``index``-th connection, or a Failure saying why there is none."""
    conv = conversation(run, peer, timeout, index)
    if conv is not None:
        return conv
    run.require_implemented()
    state = run.death_notice("without connecting").removeprefix(f"{run.spec.label} ") if not run.alive else \
        f"did not connect to {peer.hostport} within {timeout:.1f} s"
    host_hint = FAMILY_HINT if ":" in peer.host else "connect to exactly the --host and --port you were given"
    raise Failure(f"{prefix}your client {state}", hint=hint or host_hint, details=run.stderr_excerpt())


def datagrams(run, peer, count: int, timeout: float) -> bool:
    """True once the peer has received ``count`` datagrams in all."""
    return run.wait_until(lambda: len(peer.datagrams) >= count, timeout)


def expect_output(run, expected: bytes, *, timeout: float, typed: list[bytes], what: str,
                  host: str = "127.0.0.1", hint: str | None = None, answered=None, shell: str = "") -> None:
    """Wait until the client has printed exactly ``expected`` so far (more may
    follow later); raise a Failure that says what happened instead.
    ``answered()`` says whether the grader's server had sent its reply."""
    if run.wait_for(expected, timeout):
        return
    raise missing_output(run, expected, timeout=timeout, typed=typed, what=what, host=host, hint=hint,
                         answered=answered() if answered else None, shell=shell)


def missing_output(run, expected: bytes, *, timeout: float, typed: list[bytes], what: str,
                   host: str = "127.0.0.1", hint: str | None = None, answered: bool | None = None,
                   shell: str = "") -> Failure:
    run.require_implemented()
    if run.output_ended:
        run.wait_exit(1.0)      # its stdout closed: it is exiting; say so rather than "waiting"
    got = run.output
    details = [*typed_lines(typed), f"client printed> {got!r}" if got else "client printed> (nothing)",
               *([shell] if shell else [])]
    where = f"with --host {host}, " if ":" in host else ""
    if got and not expected.startswith(got):
        return Failure(f"{where}{what}: your client printed {diff.short(got)}, expected {diff.short(expected)}",
                       hint="print exactly the bytes that arrive, as they arrive: no prompt, no added newline",
                       details=details + diff.describe(expected, got))
    if not run.alive:
        notice = run.death_notice(f"before printing {diff.short(expected[len(got):])}")
        return Failure(f"{where}{what}: {notice}",
                       hint=FAMILY_HINT if ":" in host and not got else hint,
                       details=details + run.stderr_excerpt())
    missing = expected[len(got):]
    printed = f"printed only {diff.short(got)}" if got else "printed nothing"
    replied = "the server's reply came back, but " if answered else ""
    return Failure(f"{where}{what}: {replied}your client {printed} within {timeout:.1f} s "
                   f"(still waiting for {diff.short(missing)})", hint=hint, details=details)


def stderr_verdict(run, *, situation: str, shell: str = "") -> None:
    """The client ended on its own: its message must be one clear line on
    stderr, and stdout must stay clean."""
    lines = run.stderr_lines()
    out = run.output
    details = [f"client stdout> {out!r}", *run.stderr_excerpt(8), *([shell] if shell else [])]
    if any(line.startswith("Traceback") for line in lines):
        raise Failure(f"{situation}, your client died with a traceback: {lines[-1]}",
                      hint="catch the error (OSError covers ConnectionRefusedError, TimeoutError, ...) and "
                           "print one line saying what went wrong", details=details)
    if not lines:
        raise Failure(f"{situation}, your client said nothing on stderr"
                      + (f" (it printed {diff.short(out)} on stdout)" if out else ""),
                      hint="print the error with print(..., file=sys.stderr): stdout is for what the server "
                           "sends, stderr for what went wrong", details=details)
    if out.strip():
        raise Failure(f"{situation}, your client printed {diff.short(out)} on stdout",
                      hint="errors go to stderr (print(..., file=sys.stderr)); stdout carries only what the "
                           "server sent", details=details)
    if len(lines) != 1:
        raise Failure(f"{situation}, your client wrote {len(lines)} lines on stderr; one clear line is expected",
                      hint="say what failed and where, in one line", details=details)
