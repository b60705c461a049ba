"""A UDP client: one line, one datagram (without its newline); the reply
from the server, and only from the server, printed once as it arrives; a
retransmission after every --timeout without a reply, at a fixed pace, and
after --retries of them a clear end. Datagrams are counted where they cannot
lie: at the grader's server and on the wire.

Small timeouts (0.3-0.4 s) keep grading fast; where a check is not about
retransmission the client gets a long one, so that a slow machine never
makes it retransmit."""

import time

from grader.checks._client import (FAMILY_HINT, SERVER_UDP, datagrams, expect_output, missing_output, try_it,
                                  typed_lines)
from grader.engine.check import check, fail
from grader.engine.servers import free_port
from grader.probes import diff, udp_wire
from grader.probes.peers import Spoofer

TRY_SEE_BYTES = try_it("", "in one terminal: nc -u -l 127.0.0.1 9000 | od -c; in another: "
                           "python client.py --host 127.0.0.1 --port 9000, and type a line")
TRY_PIPE = try_it(SERVER_UDP, "(echo hello; sleep 2; echo world) | python client.py --host 127.0.0.1 "
                              "--port 9000 | cat")
LINES = [b"hello", b"socket katas", b"a longer line: " + b"0123456789" * 80]
NO_NEWLINE_HINT = ("the newline ends a line of input; it is not part of the message: send "
                   "line.rstrip(b'\\n') (or line.removesuffix(b'\\n'))")
RETRANSMIT_HINT = ("settimeout(timeout) before recvfrom; on TimeoutError send the same datagram again, "
                   "up to --retries times")
SPACING_HINT = ("wait the same --timeout before every retransmission (no backoff), and measure it from a "
                "deadline fixed when you sent, so nothing that arrives meanwhile can stretch it")


def _typed(line: bytes) -> str:
    return repr(line + b"\n")


def _nth(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def _quiet_client(clients, host, port, clock, **flags):
    """A client whose timeout is long: it has no reason to retransmit."""
    return clients.start(host, port, timeout=round(clock(2.0), 2), **flags)


def _started(run, peer, clock, what: str):
    """Wait for the first datagram at the peer; fail if none comes."""
    if not datagrams(run, peer, 1, clock(3.0)):
        run.require_implemented()
        state = run.death_notice("without sending anything") if not run.alive else \
            f"your client sent nothing to {peer.hostport} within {clock(3.0):.1f} s"
        fail(f"{what}: {state}", details=run.stderr_excerpt(),
             hint=FAMILY_HINT if ":" in peer.host and not run.alive else None)


def _wire(tap, port, evidence, name):
    requests = tap.datagrams
    pcap = tap.save_pcap(evidence / f"{name}.pcap") if requests else None
    return dict(details=["on the wire:", *udp_wire.describe(requests, port)], evidence=[pcap] if pcap else [])


@check("sends each line as one datagram, without its newline (IPv4 and IPv6)", hint=NO_NEWLINE_HINT)
def test_sends_each_line_as_one_datagram(clients, peers, clock):
    """In UDP the datagram is the message: its boundaries are the protocol.
    A stray newline is a byte the server receives and echoes, and a line split
    over two datagrams is two messages."""
    for host in ("127.0.0.1", "::1"):
        peer = peers.udp(host)
        run = _quiet_client(clients, host, peer.port, clock)
        typed = []
        for n, line in enumerate(LINES, 1):
            run.type_line(line)
            typed.append(line + b"\n")
            if n == 1:
                _started(run, peer, clock, f"with --host {host}, typed {typed[0]!r}")
            else:
                datagrams(run, peer, n, clock(2.0))
        got = [d.data for d in peer.datagrams]
        details = [f"with --host {host}", *typed_lines(typed),
                   *(f"server received> {diff.short(d)}" for d in got), TRY_SEE_BYTES]
        for line, data in zip(LINES, got):
            if data == line + b"\n" or data == line + b"\r\n":
                fail(f"typed {_typed(line)}, the server received {diff.short(data)}: the newline went out too",
                     details=details)
            if data != line:
                fail(f"typed {_typed(line)}, the server received {diff.short(data)}",
                     hint="one line, one datagram: sendto the whole line at once", details=details)
        if len(got) < len(LINES):
            fail(f"with --host {host}, typed {len(LINES)} lines (waiting for each reply), "
                 f"the server received {len(got)} datagrams", details=details + run.stderr_excerpt())
        extra = [d for d in got[len(LINES):] if d not in LINES]
        if extra:
            fail(f"typed {len(LINES)} lines, the server also received {diff.short(extra[0])}", details=details)
        run.stop()


@check("prints each reply as it arrives, on a terminal and through a pipe",
       hint="print the reply and its newline as soon as it arrives, and flush (print(..., flush=True)): into a "
            "pipe Python holds output back until its buffer is full or the program ends")
def test_prints_each_reply_as_it_arrives(clients, peers, clock):
    """The person at the keyboard (or the script reading the pipe) waits for
    each answer before sending the next line; output that shows up only at the
    end is no answer at all."""
    for terminal in (True, False):
        peer = peers.udp()
        run = _quiet_client(clients, peer.host, peer.port, clock, terminal=terminal)
        where = "on a terminal" if terminal else "with stdout a pipe"
        typed, expected = [], b""
        for n, line in enumerate(LINES[:2], 1):
            run.type_line(line)
            typed.append(line + b"\n")
            expected += line + b"\n"
            expect_output(run, expected, timeout=clock(2.0), typed=typed, what=f"{where}, typed {typed[-1]!r}",
                          answered=lambda n=n: sum(d.answered for d in peer.datagrams) >= n,
                          shell="" if terminal else TRY_PIPE)
        run.stop()


def _expect_retransmissions(run, tap, count: int, timeout: float, gap_limit: float) -> list:
    """Wait for ``count`` requests on the wire, each within ``gap_limit`` of
    the one before; return those seen."""
    if not run.wait_until(lambda: len(tap.to_port()) >= 1, timeout):
        return tap.to_port()
    for n in range(2, count + 1):
        last = tap.to_port()[-1].time
        run.wait_until(lambda: len(tap.to_port()) >= n, max(0.0, last + gap_limit - time.monotonic()))
        if len(tap.to_port()) < n:
            break
    return tap.to_port()


@check("retransmits after --timeout when a datagram is lost, and prints the reply once",
       hint=RETRANSMIT_HINT, needs_wire=True)
def test_retransmits_after_timeout(clients, peers, wire_ok, clock, params, evidence):
    """UDP delivers a datagram once or not at all, and says nothing either
    way. The client is the one that knows it is waiting, so it is the one
    that must notice the silence and try again."""
    timeout, retries, dropped = params["timeout"], params["retries"], 2
    peer = peers.udp(drop_first=dropped)
    tap = peers.udp_tap(peer.port)
    run = clients.start(peer.host, peer.port, timeout=timeout, retries=retries)
    line = b"lost twice, then answered"
    run.type_line(line)
    seen = _expect_retransmissions(run, tap, dropped + 1, clock(3.0), timeout + clock(1.0))
    situation = (f"the server dropped your first {dropped} datagrams on purpose (--timeout {timeout:g} "
                 f"--retries {retries})")
    if not seen:
        run.require_implemented()
        fail(f"typed {_typed(line)}: your client sent nothing"
             + (f" ({run.death_notice('')})" if not run.alive else ""), details=run.stderr_excerpt())
    if len(seen) <= dropped:
        run.require_implemented()
        fail(f"{situation}; your client sent {len(seen)} and then nothing for "
             f"{timeout + clock(1.0):.1f} s" + ("" if run.alive else f" ({run.state})"),
             **_wire(tap, peer.port, evidence, "retransmissions"))
    expected = line + b"\n"
    if not run.wait_for(expected, clock(2.0)):
        raise missing_output(run, expected, timeout=clock(2.0), typed=[expected], answered=True,
                             what=f"{situation}, then answered the {_nth(dropped + 1)}")
    # Nothing more should go out, nor be printed, once the reply is in: a
    # client that missed it would send again one timeout after the last.
    tap.wait_for(lambda t: len(t.to_port()) > dropped + 1, timeout + clock(0.1))
    seen = tap.to_port()
    wrong = [d for d in seen if d.data != seen[0].data]
    if wrong:
        fail(f"a retransmission carried {diff.short(wrong[0].data)}, not the same {diff.short(seen[0].data)}",
             hint="resend exactly the datagram that went unanswered", **_wire(tap, peer.port, evidence, "retransmissions"))
    if len(seen) > dropped + 1:
        fail(f"{situation} and answered the {_nth(dropped + 1)}; your client sent {len(seen)} datagrams in all: "
             "it went on sending after the reply came", hint="stop retransmitting as soon as the reply arrives",
             **_wire(tap, peer.port, evidence, "retransmissions"))
    if run.output != expected:
        fail(f"one reply came, and your client printed {diff.short(run.output)}, expected {expected!r} once",
             details=[f"client printed> {run.output!r}"])


@check("retransmits at a fixed pace: every gap within [0.9 × timeout, timeout + 0.3 s]",
       hint=SPACING_HINT, needs_wire=True)
def test_keeps_a_fixed_spacing(clients, peers, wire_ok, clock, evidence):
    """This kata's protocol asks for a steady pace, so that the time to give
    up is known in advance: (retries + 1) × timeout. Sending early floods a
    slow network; backing off here makes giving up take far longer than
    promised."""
    timeout, retries, dropped = 0.4, 4, 3
    peer = peers.udp(drop_first=dropped)
    tap = peers.udp_tap(peer.port)
    run = clients.start(peer.host, peer.port, timeout=timeout, retries=retries)
    run.type_line(b"paced")
    low, high = 0.9 * timeout, timeout + clock(0.3)
    seen = _expect_retransmissions(run, tap, dropped + 1, clock(3.0), timeout + clock(1.0))
    if not seen:
        run.require_implemented()
        fail("your client sent nothing" + (f" ({run.state})" if not run.alive else ""), details=run.stderr_excerpt())
    gaps = [b.time - a.time for a, b in zip(seen, seen[1:])]

    def proof():
        kept = _wire(tap, peer.port, evidence, "spacing")
        if gaps:
            kept["details"].insert(0, "gaps: " + ", ".join(f"{g:.3f} s" for g in gaps))
        return kept

    allowed = f"[{low:.2f} s, {high:.2f} s] (--timeout {timeout:g}, 0.3 s × {clock.stretch:g} of slack)"
    for n, gap in enumerate(gaps, 1):
        if gap < low:
            fail(f"retransmission {n} went out {gap:.3f} s after the datagram before it; allowed {allowed}",
                 hint="wait the whole --timeout for a reply before sending again", **proof())
        if gap > high:
            fail(f"retransmission {n} went out {gap:.3f} s after the datagram before it; allowed {allowed}",
                 **proof())
    if len(seen) <= dropped:
        fail(f"the server dropped your first {dropped} datagrams; your client sent {len(seen)}, then nothing for "
             f"{timeout + clock(1.0):.1f} s", hint=RETRANSMIT_HINT, **proof())


@check("ignores datagrams from other addresses, which do not hold back its retransmission",
       hint="compare the sender recvfrom returns with the server's address and port, and ignore any other "
            "(or connect() the socket); keep the deadline fixed when you sent: a stranger must not restart "
            "the wait", needs_wire=True)
def test_ignores_datagrams_from_strangers(clients, peers, wire_ok, clock, params):
    """Anyone can send a datagram to any port: without a connection, the
    sender's address is the only sign of who answered. A client that trusts
    any datagram can be fed lies by anyone on the network."""
    timeout = 0.4
    peer = peers.udp(drop_first=1)
    spoofer = peers.spoofer()
    strangers = [("127.0.0.1", free_port("127.0.0.1", "udp"), b"a stranger, from the server's address but another port"),
                 ("127.0.0.2", peer.port, b"a stranger, from another address but the server's port")]
    Spoofer.packet(*strangers[0][:2], peer.host, 1, b"")    # scapy's first use is slow: pay it now
    run = clients.start(peer.host, peer.port, timeout=timeout, retries=params["retries"])
    line = b"who is speaking?"
    run.type_line(line)
    _started(run, peer, clock, f"typed {_typed(line)}")
    first = peer.datagrams[0]
    packets = [Spoofer.packet(src, sport, first.sender[0], first.sender[1], payload)
               for src, sport, payload in strangers]
    spoofed = []
    deadline = first.time + timeout + clock(1.0)
    # A stranger's datagram every quarter timeout, from the first datagram
    # until the retransmission: they all arrive before the server's reply.
    while len(peer.datagrams) < 2 and time.monotonic() < deadline and run.alive and not run.output:
        src, sport, payload = strangers[len(spoofed) % 2]
        spoofer.send(first.sender[0], packets[len(spoofed) % 2])
        spoofed.append(f"stranger {src}:{sport}> {payload!r}")
        run.wait_until(lambda: len(peer.datagrams) >= 2, timeout / 4)
    expected = line + b"\n"
    run.wait_for(expected, clock(2.0) if len(peer.datagrams) >= 2 else 0.2)
    got = run.output
    details = [f"grader typed> {expected!r}", f"server> (dropped your first datagram on purpose)",
               *spoofed[:4], *([f"… {len(spoofed) - 4} more strangers …"] if len(spoofed) > 4 else []),
               f"client printed> {got!r}"]
    for _src, _sport, payload in strangers:
        if payload in got:
            fail(f"your client printed a stranger's datagram ({_src} port {_sport}) as the server's reply",
                 details=details)
    if len(peer.datagrams) < 2:
        run.require_implemented()
        fail(f"while strangers' datagrams kept arriving, your client sent no retransmission within "
             f"{timeout + clock(1.0):.1f} s (--timeout {timeout:g})" + ("" if run.alive else f"; it {run.state}"),
             details=details + run.stderr_excerpt())
    gap = peer.datagrams[1].time - first.time
    if gap > timeout + clock(0.3):
        fail(f"with strangers' datagrams arriving, your client retransmitted {gap:.2f} s after its first "
             f"datagram (--timeout {timeout:g}): each stranger restarted its wait", details=details)
    if got != expected:
        raise missing_output(run, expected, timeout=clock(2.0), typed=[expected], answered=True,
                             what="after the strangers, the server answered")


@check("gives up after --retries retransmissions, whether nothing listens or the server stays silent",
       hint="send at most 1 + --retries datagrams per line, then stop; a refusal (ConnectionRefusedError on a "
            "connected socket) counts as no reply yet: keep the spacing and retransmit", needs_wire=True)
def test_gives_up_after_its_retries(clients, wire_ok, peers, clock, params, evidence):
    """A server can be gone for good. Retrying forever hangs the client (and
    whoever waits for it); giving up early turns one lost datagram into a
    failure. The promise is 1 + retries tries, then about (retries + 1) ×
    timeout."""
    timeout, retries = params["timeout"], params["retries"]
    # One situation after the other: a client that binds a fixed port (a bug
    # judged by its own check) could not run twice at once.
    for situation in ("nothing listens", "the server never answers"):
        if situation == "nothing listens":
            host, port = "127.0.0.1", free_port("127.0.0.1", "udp")
        else:
            peer = peers.udp(silent=True)
            host, port = peer.host, peer.port
        tap = peers.udp_tap(port)
        run = clients.start(host, port, timeout=timeout, retries=retries)
        run.type_line(b"is anybody there?")
        if not run.wait_until(lambda: tap.to_port(), clock(3.0)):
            run.require_implemented()
            fail(f"when {situation}: your client sent nothing" + (f" ({run.state})" if not run.alive else ""),
                 details=run.stderr_excerpt())
        first = tap.to_port()[0].time
        limit = (retries + 1) * timeout + clock(1.0)
        code = run.wait_exit(max(0.0, first + limit - time.monotonic()))
        sent = tap.to_port()
        what = f"when {situation} (--timeout {timeout:g} --retries {retries})"
        if code is None:
            fail(f"{what}, your client was still running {limit:.1f} s after its first datagram, having sent "
                 f"{len(sent)} (the limit: ({retries} + 1) × {timeout:g} s + {clock(1.0):.1f} s)",
                 **_wire(tap, port, evidence, situation.replace(" ", "-")))
        if len(sent) != retries + 1:
            proof = _wire(tap, port, evidence, situation.replace(" ", "-"))
            fail(f"{what}, your client sent {len(sent)} datagram{'s' if len(sent) != 1 else ''} and "
                 f"{run.state}; 1 + {retries} retransmissions = {retries + 1} were expected",
                 details=proof["details"] + run.stderr_excerpt(), evidence=proof["evidence"])
        run.stop()


@check("exits with status 0 at end of input", hint="when reading stdin returns b'' (end of input), leave the "
       "loop and exit 0: no empty datagram, no waiting")
def test_exits_0_at_end_of_input(clients, peers, clock):
    """End of input is the normal way for a client to finish: ``printf 'a\\nb\\n' | client`` must
    come back with status 0 once both replies are in."""
    peer = peers.udp()
    run = _quiet_client(clients, peer.host, peer.port, clock)
    for n, line in enumerate(LINES[:2], 1):
        run.type_line(line)
        if n == 1:
            _started(run, peer, clock, f"typed {_typed(line)}")
        run.wait_until(lambda n=n: sum(d.answered for d in peer.datagrams) >= n, clock(2.0))
    before = len(peer.datagrams)
    run.end_input()
    code = run.wait_exit(clock(2.0))
    after = peer.datagrams[before:]
    extra = (f"; after end of input it sent {len(after)} more datagram{'s' if len(after) > 1 else ''} "
             f"({diff.short(after[0].data)} first)") if after else ""
    if code is None:
        fail(f"after end of input your client was still running {clock(2.0):.1f} s later{extra}",
             details=run.stderr_excerpt())
    if code != 0:
        fail(f"at end of input your client {run.state}, not with status 0{extra}", details=run.stderr_excerpt())
    if after:
        fail(f"at end of input your client exited 0{extra}")
