"""Thread-safe run counters: requests, retries, 429s. Workers add, the summary reads."""

from __future__ import annotations

import threading
from collections import Counter

# A counter named "retry:<cause>" counts the retries of one cause ("HTTP 503", "timeout").
RETRY_CAUSE_PREFIX = "retry:"


def retries_by_cause(counts: dict[str, int]) -> dict[str, int]:
    """The retry counts of a `snapshot()`, by cause, most frequent first."""
    found = {name[len(RETRY_CAUSE_PREFIX):]: count for name, count in counts.items()
             if name.startswith(RETRY_CAUSE_PREFIX) and count}
    return dict(sorted(found.items(), key=lambda item: (-item[1], item[0])))


class RunCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
