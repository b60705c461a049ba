"""A bounded tail of a program's output.

A learner's program may print nothing or gigabytes; the grader keeps the last
few kilobytes for messages and a count of the rest, and never blocks the
program on a full pipe (a reader thread drains it)."""

from __future__ import annotations

import threading
from collections import deque

TAIL_BYTES = 16 * 1024


class OutputTail:
    def __init__(self, stream, limit: int = TAIL_BYTES):
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._limit = limit
        self.total = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream):
        try:
            while True:
                chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
                if not chunk:
                    break
                with self._lock:
                    self.total += len(chunk)
                    self._chunks.append(chunk)
                    self._size += len(chunk)
                    while self._size - len(self._chunks[0]) >= self._limit:
                        self._size -= len(self._chunks.popleft())
        except (OSError, ValueError):
            pass
        finally:
            try:
                stream.close()
            except OSError:
                pass

    def join(self, timeout: float = 1.0) -> None:
        self._thread.join(timeout)

    def text(self) -> str:
        with self._lock:
            data = b"".join(self._chunks)[-self._limit:]
        return data.decode("utf-8", "replace")

    def last_lines(self, n: int = 5) -> list[str]:
        lines = [line.rstrip() for line in self.text().splitlines() if line.strip()]
        return lines[-n:]

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def flooded(self) -> bool:
        return self.total > self._limit
