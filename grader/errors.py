"""The grader's own outcomes. Raw OSError, psutil and pexpect errors are
translated into these at the boundary, so no learner ever sees a traceback."""


class UsageError(Exception):
    """The grader cannot run what it was asked (unknown kata, missing file, bad
    flag). The CLI prints the message on one line and exits 2."""


class Failure(AssertionError):
    """A check saw the program break a property.

    ``message`` is the one line a learner reads first; ``hint`` overrides the
    check's own hint when the observation points at a more specific cause;
    ``details`` are the exchange and evidence lines shown under it."""

    def __init__(self, message, *, hint=None, details=(), evidence=()):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = list(details)
        self.evidence = list(evidence)


class NotRun(Exception):
    """The check cannot be performed where the grader runs (no raw sockets, an
    unknown architecture, no Python source under --cmd). It is reported with its
    reason and left out of max_score; it never counts as passed."""


class ProgramUnavailable(Failure):
    """The learner's program is not there to be probed (never started, crashed
    at start, never listened). Checks that need it fail with this one reason
    instead of a cascade of unrelated-looking errors."""
