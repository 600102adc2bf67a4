"""Where RequestID counters come from: never worker memory, which goes back on restart and collides
between workers (replays to the DCC). The in-memory source is for tests and the benchmark only."""

from __future__ import annotations

import threading
from typing import Protocol


class CounterSource(Protocol):
    """Hands out strictly increasing counters per originator EUI-64."""

    def next_counter(self, originator: str) -> int:
        """Return a counter greater than every one returned before for ``originator``."""
        ...


class InMemoryCounterSource:
    """Thread-safe, process-local counters, not for production."""

    def __init__(self, start: int = 1000) -> None:
        self._start = start
        self._values: dict[str, int] = {}
        self._lock = threading.Lock()

    def next_counter(self, originator: str) -> int:
        with self._lock:
            value = self._values.get(originator, self._start) + 1
            self._values[originator] = value
            return value
