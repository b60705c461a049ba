"""A long, reproducible byte stream, generated and checked in pieces and
never held whole: pushing and verifying 256 MiB costs a few kilobytes of the
grader's memory.

Rule 1: every record says where it belongs. The stream is a run of
``RECORD``-byte records, each opening with its own index in ASCII
(``#0000000000002a\\n``), then printable filler drawn from the check's seed.
A byte that arrives out of order, twice or not at all shifts what follows and
is caught by the next record at the latest, and the report's hex window shows
which record came instead.

Rule 2: cheap. A piece is a join of ready-made slices (no per-byte Python
work), so the grader pushes and verifies at loopback speed.
"""

from __future__ import annotations

import hashlib

RECORD = 4096
_HEAD = 16          # b"#%014x\n"
PRINTABLE = range(0x20, 0x7F)
WINDOW = 8


class Stream:
    """The bytes at any offset of an endless, seeded, self-numbering stream."""

    def __init__(self, rng):
        # Printable on purpose: binary data is the binary echo check's job, so
        # a server that decodes text loses that check, not this one too.
        self.filler = bytes(rng.choices(PRINTABLE, k=RECORD - _HEAD))

    def record(self, index: int) -> bytes:
        return b"#%014x\n" % index + self.filler

    def at(self, offset: int, n: int) -> bytes:
        if n <= 0:
            return b""
        first, last = offset // RECORD, (offset + n - 1) // RECORD
        data = b"".join(self.record(i) for i in range(first, last + 1))
        start = offset - first * RECORD
        return data[start:start + n]


class Verifier:
    """Fed what came back, piece by piece, in order: counts it, hashes it, and
    remembers where it first differed from the stream."""

    def __init__(self, stream: Stream):
        self.stream = stream
        self.received = 0
        self.mismatch: int | None = None      # offset of the first wrong byte
        self._lines: list[str] = []
        self._got_hash = hashlib.sha256()
        self._want_hash = hashlib.sha256()

    def feed(self, chunk: bytes) -> None:
        want = self.stream.at(self.received, len(chunk))
        self._got_hash.update(chunk)
        self._want_hash.update(want)
        if self.mismatch is None and want != chunk:
            at = next(i for i in range(len(chunk)) if want[i] != chunk[i])
            self.mismatch = self.received + at
            self._lines = [f"expected {_window(want, at, self.received)}",
                           f"received {_window(chunk, at, self.received)}"]
        self.received += len(chunk)

    @property
    def exact(self) -> bool:
        return self.mismatch is None

    def describe(self, expected_total: int) -> list[str]:
        """Lengths, the first differing offset with a hex + ASCII window, and a
        hash of each side (over what was received)."""
        lines = [f"expected {expected_total:,} bytes, received {self.received:,}"]
        if self.mismatch is not None:
            lines[0] += f"; first difference at offset {self.mismatch:,}"
            lines += self._lines
        lines.append(f"sha256 of the {self.received:,} bytes received {self._got_hash.hexdigest()[:16]}…, "
                     f"expected {self._want_hash.hexdigest()[:16]}…")
        return lines


def _window(data: bytes, at: int, base: int) -> str:
    lo = max(0, at - WINDOW)
    chunk = data[lo:at + WINDOW]
    hexes = " ".join(f"{b:02x}" for b in chunk)
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
    return f"@{base + lo:,}: {hexes:<{3 * 2 * WINDOW}} |{text}|"
