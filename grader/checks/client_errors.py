"""When a client cannot do its job (nothing listens; no reply after every
retransmission) it says why in one clear line on stderr, keeps stdout clean,
and exits with status 1, so a person reads the reason and a script sees the
failure. The message and the status are judged apart: one bug, one check."""

from grader.checks._client import stderr_verdict, try_it
from grader.engine.check import check, fail
from grader.engine.servers import free_port

REFUSED_HINT = ("catch OSError around connect (ConnectionRefusedError is one), print one line on stderr "
                "saying what failed, and exit 1")
GIVE_UP_HINT = ("after the last retransmission goes unanswered, print one line on stderr "
                "(print(..., file=sys.stderr)) and exit with status 1")


def _refused_run(clients, clock):
    port = free_port("127.0.0.1")
    run = clients.start("127.0.0.1", port)
    situation = f"with nothing listening on 127.0.0.1:{port}"
    code = run.wait_exit(clock(3.0))
    if code is None:
        fail(f"{situation}, your client was still running after {clock(3.0):.1f} s",
             hint=REFUSED_HINT, details=run.stderr_excerpt())
    return run, code, situation


@check("says why in one line on stderr when nothing listens", hint=REFUSED_HINT)
def test_explains_refusal_on_stderr(clients, clock):
    """"Connection refused" is the most common network error there is; a
    traceback or a silent exit leaves the person at the keyboard guessing."""
    run, _code, situation = _refused_run(clients, clock)
    stderr_verdict(run, situation=situation, shell=try_it("", "python client.py --host 127.0.0.1 --port 9 "
                                                          "(nothing listens there); echo $?"))


@check("exits with status 1 when nothing listens", hint=REFUSED_HINT)
def test_exits_1_when_refused(clients, clock):
    """Scripts (``client ... && next-step``) see only the exit status: 0
    after a failure tells them everything went well."""
    run, code, situation = _refused_run(clients, clock)
    if code != 1:
        fail(f"{situation}, your client {run.state}, not with status 1", details=run.stderr_excerpt())


def _given_up(clients, peers, clock):
    """A client talking to a server that is there (bound) but never answers."""
    timeout, retries = 0.3, 1
    peer = peers.udp(silent=True)
    run = clients.start(peer.host, peer.port, timeout=timeout, retries=retries)
    run.type_line(b"anyone there?")
    limit = (retries + 1) * timeout + clock(2.0)
    situation = f"with a server that never answers (--timeout {timeout:g} --retries {retries})"
    code = run.wait_exit(limit)
    if code is None:
        fail(f"{situation}, your client was still running after {limit:.1f} s: it never gave up",
             hint="settimeout (or a deadline) on every wait, and count the retransmissions",
             details=run.stderr_excerpt())
    return run, code, situation


@check("says why in one line on stderr when it gives up", hint=GIVE_UP_HINT)
def test_explains_giving_up_on_stderr(clients, peers, clock):
    """stdout carries replies, and a script may be reading it: an error
    message there passes for a reply."""
    run, _code, situation = _given_up(clients, peers, clock)
    stderr_verdict(run, situation=situation, shell=try_it("", "echo hi | python client.py --host 127.0.0.1 "
                                                          "--port 9 --timeout 0.3 --retries 1 > out.txt; "
                                                          "echo $?; cat out.txt"))


@check("exits with status 1 when it gives up", hint=GIVE_UP_HINT)
def test_exits_1_after_giving_up(clients, peers, clock):
    """Giving up is a failure, and the exit status is how a script learns of
    it."""
    run, code, situation = _given_up(clients, peers, clock)
    if code != 1:
        fail(f"{situation}, your client gave up and {run.state}, not with status 1",
             details=run.stderr_excerpt())
