"""A client-side rate budget for vendors that publish a rate but send no budget headers.

The limiter in `ratelimit.py` learns from headers; a vendor that only documents "20
requests per second" and answers 429 otherwise gives it nothing to learn from until the
429s come. This pacer keeps the tap under the published rate from the first request: a
token bucket a little smaller than the vendor's (requests reach the server with some
jitter, so an exact copy of its bucket would still be refused now and then).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# Share of the published rate used, and of its burst: margin for jitter between the moment
# a request is admitted here and the moment it reaches the server (a busy CPU can hold a
# few admitted requests back and send them together).
RATE_SHARE = 0.9
BURST_SHARE = 0.25


@dataclass(frozen=True)
class PublishedRate:
    """`requests` per `per_seconds`, as the vendor documents it."""

    requests: int
    per_seconds: float


class Pacer:
    """Thread-safe token bucket; `acquire` blocks until a request may leave."""

    def __init__(
        self,
        rate: PublishedRate,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._per_s = rate.requests / rate.per_seconds * RATE_SHARE
        self._burst = max(1.0, rate.requests * BURST_SHARE)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self._burst
        self._at = clock()

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._at) * self._per_s)
            self._at = now
            # Take the token now (possibly going negative): waiters queue up in order
            # instead of racing for the next token.
            self._tokens -= 1.0
            wait = -self._tokens / self._per_s if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
