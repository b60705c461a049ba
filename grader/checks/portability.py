"""Portable code lets the platform choose how to wait: the readiness
mechanism (epoll on Linux, kqueue on macOS and the BSDs, select or poll
elsewhere) is picked by ``selectors.DefaultSelector`` or asyncio, never named
by the learner.

Two sides of one property: what the source names (read from its syntax tree
by probes/source.py; a program graded with --cmd has no Python source and is
exempt, saying so), and what the running program does while idle (it waits in
the call this platform's DefaultSelector uses, judged from the shared study
like the other event-loop checks)."""

from __future__ import annotations

import selectors

from grader.checks.event_loop import _judge_idle_call
from grader.engine.check import check, fail
from grader.errors import NotRun
from grader.probes import source, syscalls

# The call each of the grader's own DefaultSelector classes waits in (Linux /proc names).
_CALLS = {
    "EpollSelector": (syscalls.EPOLL_CALLS, "epoll_wait/epoll_pwait"),
    "PollSelector": (syscalls.POLL_CALLS, "poll/ppoll"),
    "SelectSelector": (syscalls.SELECT_CALLS, "select/pselect6"),
}


def platform_call() -> tuple[set[str], str] | None:
    """What a program using the portable layer waits in on this machine."""
    return _CALLS.get(selectors.DefaultSelector.__name__)


@check("lets the portable layer choose the readiness call (names no epoll, poll, select or *Selector)",
       hint="create your selector with selectors.DefaultSelector() (or use asyncio): it picks epoll on Linux, "
            "kqueue on macOS and the BSDs, and select on Windows")
def test_names_no_platform_specific_call(ctx, launcher):
    """Code that names epoll runs on Linux only; code that names select stops
    at 1,024 descriptors. The portable layer picks the best mechanism of
    whatever system runs the program, and the same source serves them all."""
    files = ctx.launch.python_sources
    if not files:
        raise NotRun("no Python source to read (graded with --cmd)")
    # Positive evidence first: a program that does not run proves nothing.
    launcher.fresh()
    findings, unreadable = source.scan_tree(files, ctx.launch.source)
    if findings:
        first = findings[0]
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        fail(f"{first.path}:{first.line} names {first.name}{more}: {first.why}; use {source.PORTABLE} instead",
             details=[f"{f.describe()}" for f in findings[:8]]
             + (["…"] if len(findings) > 8 else [])
             + ["(read from the syntax tree: comments and strings do not count)"])
    if unreadable:
        raise NotRun("could not read every Python file of the program: "
                     + "; ".join(u.describe() for u in unreadable[:3]))


@check("when idle, its thread waits in the call the portable layer chose (epoll_wait on Linux)",
       hint="one thread, one selectors.DefaultSelector() (or one asyncio loop), and nothing else that waits: "
            "no threads, no executor, no time.sleep")
def test_waits_in_the_portable_call_when_idle(study):
    """One thread asleep in the platform's readiness call is the event-loop
    model at its cheapest: the kernel wakes it only when a socket is ready."""
    call = platform_call()
    if call is None:
        raise NotRun(f"the grader does not know which call {selectors.DefaultSelector.__name__} waits in")
    family, name = call
    _judge_idle_call(study, family, name,
                     "wait in your DefaultSelector's select() (or asyncio's loop) from the main thread, with "
                     "no timeout: no threads, no run_in_executor")
