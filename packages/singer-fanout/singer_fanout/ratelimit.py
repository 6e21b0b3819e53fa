"""Client-side rate limiting per vendor scope (a token, an org), seeded from response headers.

The limiter counts what it sends in the server's current window and, once the budget is
spent, holds further requests until the window resets. The server's headers correct the
count (other clients may share the budget) and tell when the window ends. A 429 marks the
budget spent until the moment the server named. The result: the budget is used nearly in
full while 429s stay rare.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimitInfo:
    """What one response said about the budget. Any field may be unknown."""

    limit: int | None
    remaining: int | None
    reset_in_s: float | None


# Margin added to the server's reset moment: its headers have one-second resolution.
RESET_MARGIN_S = 0.05
# Before the first response tells the real window length, assume the common one.
DEFAULT_WINDOW_S = 60.0
MAX_SLEEP_STEP_S = 0.25


@dataclass(frozen=True)
class ScopeWait:
    """A scope whose budget is holding requests back right now."""

    scope: str
    wait_s: float  # until the scope lets the next request through (the limiter's estimate)
    waiting: int  # requests held in it


@dataclass
class _Budget:
    limit: int | None = None
    used: int = 0
    window_end: float | None = None
    blocked_until: float = 0.0
    window_s: float | None = None  # the longest time-to-reset a response has reported


class RateLimiter:
    """Thread-safe budgets keyed by scope. One instance per tap run."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._budgets: dict[str, _Budget] = {}
        self._held: Counter[str] = Counter()  # requests waiting in acquire(), per scope

    def acquire(self, scope: str) -> None:
        """Block until one request may be sent in `scope`, then count it."""
        held = False
        try:
            while True:
                with self._lock:
                    budget = self._budgets.setdefault(scope, _Budget())
                    now = self._clock()
                    self._roll_window(budget, now)
                    wait = self._wait_needed(budget, now)
                    if wait <= 0:
                        budget.used += 1
                        return
                    if not held:
                        held = True
                        self._held[scope] += 1
                # Sleep in short steps: an answer arriving meanwhile may end the wait sooner
                # (a guessed window, a reset that came early).
                step = min(wait, MAX_SLEEP_STEP_S)
                self._sleep(step)
        finally:
            if held:
                with self._lock:
                    self._held[scope] -= 1

    def waits(self) -> list[ScopeWait]:
        """The scopes holding requests back now, longest wait first (for progress lines)."""
        with self._lock:
            now = self._clock()
            found = [
                ScopeWait(scope, self._time_left(self._budgets[scope], now), count)
                for scope, count in self._held.items() if count > 0
            ]
        return sorted(found, key=lambda wait: (-wait.wait_s, wait.scope))

    def observe(self, scope: str, info: RateLimitInfo) -> None:
        """Fold a response's rate-limit headers into the scope's budget."""
        with self._lock:
            budget = self._budgets.setdefault(scope, _Budget())
            now = self._clock()
            if info.limit is not None:
                budget.limit = info.limit
            if info.reset_in_s is not None:
                budget.window_s = max(budget.window_s or 0.0, info.reset_in_s + RESET_MARGIN_S)
                window_end = now + max(0.0, info.reset_in_s) + RESET_MARGIN_S
                if budget.window_end is None:
                    budget.window_end = window_end
                elif window_end > budget.window_end + 1.0:
                    # A later window than the one we were counting: the server has rolled.
                    budget.used = 0
                    budget.window_end = window_end
                # An earlier end comes from a response of a window that is already over
                # (it was in flight while the window rolled): it must not end ours early.
            if info.limit is not None and info.remaining is not None:
                # The server may know of requests we did not send (other clients).
                budget.used = max(budget.used, info.limit - info.remaining)

    def penalize(self, scope: str, wait_s: float) -> None:
        """A 429: nothing more in this scope until the server's moment has passed."""
        with self._lock:
            budget = self._budgets.setdefault(scope, _Budget())
            now = self._clock()
            budget.blocked_until = max(budget.blocked_until, now + wait_s + RESET_MARGIN_S)
            if budget.limit is not None:
                budget.used = budget.limit

    def _roll_window(self, budget: _Budget, now: float) -> None:
        if budget.window_end is not None and now >= budget.window_end:
            budget.used = 0
            budget.window_end = None

    @staticmethod
    def _time_left(budget: _Budget, now: float) -> float:
        """Like `_wait_needed`, without guessing a window end (a read changes nothing)."""
        left = budget.blocked_until - now
        spent = budget.limit is not None and budget.used >= budget.limit
        if spent and budget.window_end is not None:
            left = max(left, budget.window_end - now)
        return max(left, 0.0)

    @staticmethod
    def _wait_needed(budget: _Budget, now: float) -> float:
        if now < budget.blocked_until:
            return budget.blocked_until - now
        if budget.limit is not None and budget.used >= budget.limit:
            if budget.window_end is None:
                # Spent, and no header said when the window ends yet: assume the longest
                # window seen so far (or a common one); the next answer corrects it.
                budget.window_end = now + (budget.window_s or DEFAULT_WINDOW_S)
            return max(budget.window_end - now, 0.01)
        return 0.0
