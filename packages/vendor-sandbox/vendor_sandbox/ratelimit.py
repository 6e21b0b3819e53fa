"""Rate limiting per bucket, and detection of clients that retry too early.

X and Y count requests in fixed windows (`RateLimiter`); VendorZ refills a token bucket
(`TokenBucketLimiter`). Both answer with the same `Decision`.

A bucket's window opens with its first request and lasts `window_s`; the request that
finds the window full is refused until it closes. Once a 429 sent at S told bucket B to
wait until R, a request to B arriving in [S + 0.1 s, R - 0.05 s) is an *early retry*:
that is how the stats prove whether a client honoured Retry-After / X-RateLimit-Reset.
S is the first 429 of the window (so a client hammering without pause is still caught),
and the 0.1 s after it are spared because a concurrent client's requests already on the
wire when the 429 left were sent before the client could read it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

EARLY_TOLERANCE_S = 0.05  # clock granularity and scheduling slack granted to clients
IN_FLIGHT_GRACE_S = 0.1  # requests sent before the client could have read the first 429


@dataclass
class _Bucket:
    window_start: float
    count: int = 0
    told_at: float | None = None  # when the window's first 429 was sent
    told_reset: float | None = None  # the reset R that 429 promised


@dataclass(frozen=True)
class Decision:
    bucket: str
    limited: bool
    limit: int
    remaining: int
    reset_at: float  # time.monotonic() at which the window closes
    early: bool
    # Fixed windows only: time.monotonic() at which the request's window opened (for stats).
    window_start: float | None = None

    def seconds_to_reset(self, now: float | None = None) -> float:
        return max(0.0, self.reset_at - (time.monotonic() if now is None else now))

    def reset_epoch(self) -> float:
        """Wall-clock (epoch) time of the reset."""
        return time.time() + self.seconds_to_reset()


class RateLimiter:
    """Not thread-safe: used only from the event loop thread."""

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}

    def hit(self, bucket: str, limit: int, window_s: float, now: float | None = None) -> Decision:
        """Count one request against `bucket`."""
        now = time.monotonic() if now is None else now
        state = self._buckets.get(bucket)
        early = (
            state is not None
            and state.told_at is not None
            and state.told_reset is not None
            and state.told_at + IN_FLIGHT_GRACE_S <= now < state.told_reset - EARLY_TOLERANCE_S
        )
        if state is None or now >= state.window_start + window_s:
            state = self._buckets[bucket] = _Bucket(window_start=now)
        state.count += 1
        return Decision(
            bucket=bucket,
            limited=state.count > limit,
            limit=limit,
            remaining=max(0, limit - state.count),
            reset_at=state.window_start + window_s,
            early=early,
            window_start=state.window_start,
        )

    def told(self, decision: Decision, now: float | None = None) -> None:
        """Record that a 429 for `decision` was sent, promising the reset moment."""
        state = self._buckets.get(decision.bucket)
        if state is not None and state.told_reset != decision.reset_at:  # first 429 of window
            state.told_at = time.monotonic() if now is None else now
            state.told_reset = decision.reset_at

    def reset(self) -> None:
        self._buckets.clear()


@dataclass
class _TokenBucket:
    tokens: float
    refilled_at: float
    told_at: float | None = None
    told_reset: float | None = None


class TokenBucketLimiter:
    """`limit` tokens that refill evenly over `window_s`; a request takes one or is refused.

    Not thread-safe: used only from the event loop thread. A refused request takes no
    token, so a client that waits as told gets through.
    """

    def __init__(self) -> None:
        self._buckets: dict[str, _TokenBucket] = {}

    def hit(self, bucket: str, limit: int, window_s: float, now: float | None = None) -> Decision:
        now = time.monotonic() if now is None else now
        rate = limit / window_s
        state = self._buckets.get(bucket)
        if state is None:
            state = self._buckets[bucket] = _TokenBucket(tokens=float(limit), refilled_at=now)
        early = (
            state.told_at is not None
            and state.told_reset is not None
            and state.told_at + IN_FLIGHT_GRACE_S <= now < state.told_reset - EARLY_TOLERANCE_S
        )
        state.tokens = min(float(limit), state.tokens + (now - state.refilled_at) * rate)
        state.refilled_at = now
        limited = state.tokens < 1.0
        if not limited:
            state.tokens -= 1.0
        # When the next token is there: what a refused client is told to wait for.
        reset_at = now + max(0.0, 1.0 - state.tokens) / rate
        return Decision(bucket, limited, limit, int(state.tokens), reset_at, early)

    def told(self, decision: Decision, now: float | None = None) -> None:
        state = self._buckets.get(decision.bucket)
        now = time.monotonic() if now is None else now
        # The first 429 after the last promised moment starts a new promise, so a client
        # hammering without pause is still caught.
        if state is not None and (state.told_reset is None or now >= state.told_reset):
            state.told_at = now
            state.told_reset = decision.reset_at

    def reset(self) -> None:
        self._buckets.clear()


Limiter = RateLimiter | TokenBucketLimiter
