"""Buffers a job's output lines and writes them to the log store in batches, one stream per host.

Stream names follow SageMaker: `<job-name>/algo-<i>-<epoch-seconds>`. Lines are timestamped when they
arrive; a write flushes after `FLUSH_SECONDS` or `FLUSH_LINES`, and the loop waiting on the hosts
flushes every poll, so quiet jobs' lines show up without waiting for the next line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from emulator.logs.store import LogStore

FLUSH_SECONDS = 0.2
FLUSH_LINES = 500


class LogSink:
    def __init__(self, store: LogStore, group: str, stream: str, on_line: Callable[[str, int], None] | None = None):
        self.stream = stream
        self._store = store
        self._group = group
        self._on_line = on_line
        self._pending: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        self.tail: list[str] = []

    def write(self, line: str) -> None:
        timestamp = int(time.time() * 1000)
        with self._lock:
            self._pending.append((timestamp, line))
            self.tail = [*self.tail[-29:], line]
            due = len(self._pending) >= FLUSH_LINES or time.monotonic() - self._last_flush >= FLUSH_SECONDS
        if self._on_line is not None:
            self._on_line(line, timestamp)
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            self._last_flush = time.monotonic()
        if batch:
            self._store.append(self._group, self.stream, batch)


def with_log_tail(head: str, lines: list[str], limit: int, label: str = "Last log lines") -> str:
    """`head`, then as many of the last `lines` as fit in `limit` characters (the newest kept first)."""
    if not lines:
        return head[:limit]
    kept: list[str] = []
    room = limit - len(head) - len(label) - 3
    for line in reversed(lines):
        if room - len(line) - 1 < 0:
            break
        kept.insert(0, line)
        room -= len(line) + 1
    if not kept and room > 0:  # the last line alone is too long: its end, which usually says what went wrong
        kept = [lines[-1][-room:]]
    if not kept:
        return head[:limit]
    return f"{head}. {label}:\n" + "\n".join(kept)
