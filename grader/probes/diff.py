"""Pointing at the byte: how two byte strings differ, in a few lines a learner
can read (lengths, the first differing offset, a hex + ASCII window, and for
large payloads a hash of each side instead of the payload)."""

from __future__ import annotations

import hashlib

WINDOW = 8


def first_difference(expected: bytes, got: bytes) -> int | None:
    n = min(len(expected), len(got))
    # Compare in blocks first: a multi-megabyte payload is the common case.
    step = 4096
    for start in range(0, n, step):
        if expected[start:start + step] != got[start:start + step]:
            for i in range(start, min(start + step, n)):
                if expected[i] != got[i]:
                    return i
    if len(expected) != len(got):
        return n
    return None


def _window(data: bytes, at: int) -> str:
    lo = max(0, at - WINDOW)
    chunk = data[lo:at + WINDOW]
    hexes = " ".join(f"{b:02x}" for b in chunk)
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
    return f"@{lo}: {hexes:<{3 * 2 * WINDOW}} |{text}|"


def short(data: bytes, limit: int = 60) -> str:
    if len(data) <= limit:
        return repr(data)
    return f"{data[:limit]!r}… ({len(data)} bytes)"


def describe(expected: bytes, got: bytes) -> list[str]:
    """Lines for the report; empty when equal."""
    at = first_difference(expected, got)
    if at is None:
        return []
    lines = [f"expected {len(expected)} bytes, received {len(got)}; first difference at offset {at}"]
    if len(expected) > 4096 or len(got) > 4096:
        lines.append(f"sha256 expected {hashlib.sha256(expected).hexdigest()[:16]}…, "
                     f"received {hashlib.sha256(got).hexdigest()[:16]}…")
    if at < len(expected):
        lines.append("expected " + _window(expected, at))
    if at < len(got):
        lines.append("received " + _window(got, at))
    else:
        lines.append(f"received nothing from offset {at} on")
    return lines
