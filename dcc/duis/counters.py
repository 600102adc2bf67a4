"""Where RequestID counters come from.

The client never owns counters: a counter that lives in one worker's memory goes back
after a restart and collides between workers, and the DCC rejects both as replays. The
Django side implements :class:`CounterSource` on PostgreSQL; the in-memory source here
is for tests of the pure parts and for the benchmark only.
"""

from __future__ import annotations

import threading
from typing import Protocol


class CounterSource(Protocol):
    """Hands out strictly increasing counters per originator EUI-64."""

    def next_counter(self, originator: str) -> int:
        """Return a counter greater than every one returned before for ``originator``."""
        ...


class InMemoryCounterSource:
    """Thread-safe, process-local counters. Not for production (see module docstring)."""

    def __init__(self, start: int = 1000) -> None:
        self._start = start
        self._values: dict[str, int] = {}
        self._lock = threading.Lock()

    def next_counter(self, originator: str) -> int:
        with self._lock:
            value = self._values.get(originator, self._start) + 1
            self._values[originator] = value
            return value
