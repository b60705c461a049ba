"""Resource limits a kata starts its program with.

kata8 starts with a soft descriptor limit of 1024 and a higher hard limit, so
reaching 10,000 connections needs setrlimit; kata11 with soft = hard. The
hard limit can only go down here (even root lacks CAP_SYS_RESOURCE on these
machines), so a wanted hard limit is capped at the grader's own."""

from __future__ import annotations

import resource


def nofile(soft: int, hard: int) -> tuple[int, int]:
    _, own_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if own_hard != resource.RLIM_INFINITY:
        hard = min(hard, own_hard)
    return min(soft, hard), hard
