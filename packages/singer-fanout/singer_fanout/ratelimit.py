"""Client-side rate limiting per vendor scope (a token, an org), seeded from response headers.

The limiter counts what it sends in the server's current window and, once the budget is
spent, holds further requests until the window resets. The server's headers correct the
count (other clients may share the budget) and tell when the window ends. A 429 marks the
budget spent until the moment the server named. The result: the budget is used nearly in
full while 429s stay rare.

Headers are not trusted blindly: a reset in epoch milliseconds, an epoch where seconds-until
were expected, or a moment days away (a broken clock) would hold the run without limit. Such
a value is named once in the log and replaced by a fallback window, and no wait derived
from headers ever exceeds `max_rate_limit_wait`.

A reset rounded up to whole seconds would cost up to a second per window when the budget
binds. The answer that opens a window tells when it opened (to within its round trip);
from such answers the limiter learns each scope's window length (window_length.py) and
ends the wait at the window's true end, never later than the header's moment.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from singer_fanout.window_length import WindowLength

logger = logging.getLogger("singer_fanout.ratelimit")


@dataclass(frozen=True)
class RateLimitInfo:
    """What one response said about the budget. Any field may be unknown."""

    limit: int | None
    remaining: int | None
    reset_in_s: float | None
    # The header the reset was read from, and why its value was not believed (if it was not).
    reset_header: str | None = None
    reset_problem: str | None = None
    # The vendor rounds its reset up to this many seconds (1.0: whole seconds); None: not
    # known, and then no window length is learnt from it (see window_length.py).
    reset_resolution_s: float | None = None


# No rate-limit window of any API we know is longer than a day: a reset further away is a
# misread header or a broken clock, not a window.
MAX_PLAUSIBLE_RESET_S = 86_400.0
# Epoch seconds are about 1.7e9 now; epoch milliseconds about 1.7e12.
_EPOCH_S_FLOOR = 1e9
_EPOCH_MS_FLOOR = 1e11


def read_reset(
    headers: Mapping[str, str], name: str, *, epoch: bool,
    now: Callable[[], float] = time.time,
) -> tuple[float | None, str | None]:
    """Seconds until the window resets from header `name` (an epoch second when `epoch`,
    else seconds-until), or (None, why not) when the value is implausible."""
    raw = headers.get(name)
    if raw is None:
        return None, None
    try:
        value = float(raw)
    except ValueError:
        return None, f"{name}: {raw!r} is not a number"
    doubt = _unit_doubt(value, epoch=epoch)
    if doubt is not None:
        return None, f"{name}: {raw!r} {doubt}"
    seconds = value - now() if epoch else value
    if seconds > MAX_PLAUSIBLE_RESET_S:
        return None, (f"{name}: {raw!r} is {seconds:.0f}s away, more than any rate-limit "
                      "window (a clock far off?)")
    return max(0.0, seconds), None


def _unit_doubt(value: float, *, epoch: bool) -> str | None:
    """Why `value` is not in the unit the vendor documents, if it visibly is not."""
    if epoch and value >= _EPOCH_MS_FLOOR:
        return "looks like epoch milliseconds, not epoch seconds"
    if epoch and value < _EPOCH_S_FLOOR:
        return "looks like seconds until the reset, not an epoch"
    if not epoch and value >= _EPOCH_S_FLOOR:
        return "looks like an epoch, not seconds until the reset"
    return None


def reset_info(
    headers: Mapping[str, str], *, limit: str, remaining: str, reset: str, epoch: bool,
    rounded_up_to_s: float | None = None,
) -> RateLimitInfo:
    """The usual trio of budget headers, the reset read with `read_reset`.
    `rounded_up_to_s`: the vendor documents its reset as rounded up to that many seconds."""
    reset_in_s, problem = read_reset(headers, reset, epoch=epoch)
    return RateLimitInfo(_whole(headers, limit), _whole(headers, remaining), reset_in_s,
                         reset_header=reset, reset_problem=problem,
                         reset_resolution_s=rounded_up_to_s)


def _whole(headers: Mapping[str, str], name: str) -> int | None:
    try:
        return int(float(headers[name]))
    except (KeyError, ValueError, OverflowError):
        return None


# Margin added to the server's reset moment: its headers have one-second resolution.
RESET_MARGIN_S = 0.05
# Margin added to a learnt window end (see window_length.py): that end is already an upper
# bound, this only absorbs float rounding and timer slack.
LEARNT_MARGIN_S = 0.005
# A learnt window length that moves by less than this is not worth a log line.
LEARNT_NEWS_S = 0.1
# Before the first response tells the real window length, assume the common one.
DEFAULT_WINDOW_S = 60.0
MAX_SLEEP_STEP_S = 0.25


@dataclass(frozen=True)
class ScopeWait:
    """A scope whose budget is holding requests back right now."""

    scope: str
    wait_s: float  # until the scope lets the next request through (the limiter's estimate)
    waiting: int  # requests held in it


@dataclass(frozen=True)
class Ticket:
    """A request the limiter let through: when, and in which of the scope's windows."""

    sent_at: float  # the limiter's clock when the request left
    window: int  # how many windows the scope had rolled through by then


@dataclass
class _Budget:
    limit: int | None = None
    used: int = 0
    window_end: float | None = None
    blocked_until: float = 0.0
    window_s: float | None = None  # the longest time-to-reset a response has reported
    window: int = 0  # windows rolled through (the client's count)
    # When the answer that opened the newest window seen was read, and in which of our
    # windows that was.
    opened_read: float | None = None
    opened_in: int = -1
    length: WindowLength | None = None  # learnt from window openings (see window_length.py)


class RateLimiter:
    """Thread-safe budgets keyed by scope. One instance per tap run.

    `learn_windows`: end waits at the window end learnt from window openings when it is
    earlier than the rounded reset header (False: wait for the header's moment only).
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        *,
        max_wait_s: float | None = None,
        learn_windows: bool = True,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        # `max_rate_limit_wait`: no wait derived from headers is longer.
        self._max_wait_s = max_wait_s
        self._learn_windows = learn_windows
        self._told: set[str] = set()  # header problems already logged (once each)
        self._lock = threading.Lock()
        self._budgets: dict[str, _Budget] = {}
        self._held: Counter[str] = Counter()  # requests waiting in acquire(), per scope

    def acquire(self, scope: str) -> Ticket:
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
                        return Ticket(now, budget.window)
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

    def learnt_window_s(self, scope: str) -> float | None:
        """The window length learnt for `scope` so far (None: none yet)."""
        with self._lock:
            budget = self._budgets.get(scope)
            return _estimate(budget) if budget is not None else None

    def observe(self, scope: str, info: RateLimitInfo, ticket: Ticket | None = None) -> None:
        """Fold a response's rate-limit headers into the scope's budget. `ticket`: what
        `acquire` returned for the request (None: when it was sent is unknown)."""
        reset_in_s = self._plausible_reset(info)
        with self._lock:
            budget = self._budgets.setdefault(scope, _Budget())
            learnt_before = _estimate(budget)
            self._fold(budget, info, reset_in_s, ticket)
            learnt = _estimate(budget)
        self._tell_learnt(scope, learnt_before, learnt, refused=False)

    def _fold(self, budget: _Budget, info: RateLimitInfo, reset_in_s: float | None,
              ticket: Ticket | None) -> None:
        """`observe` under the lock."""
        now = self._clock()
        if info.limit is not None:
            budget.limit = info.limit
        if reset_in_s is not None:
            budget.window_s = max(budget.window_s or 0.0, reset_in_s + RESET_MARGIN_S)
        if ticket is not None and ticket.window < budget.window and not _opens(info):
            # Sent before we rolled to the current window: it tells of a window that
            # is over for us (its count and its end would end ours early or late).
            return
        if ticket is not None and _opens(info):
            self._window_opened(budget, info, reset_in_s, ticket, now)
        elif reset_in_s is not None:
            self._window_continues(budget, info, reset_in_s, ticket, now)
        if info.limit is not None and info.remaining is not None:
            # The server may know of requests we did not send (other clients).
            budget.used = max(budget.used, info.limit - info.remaining)

    def _window_opened(self, budget: _Budget, info: RateLimitInfo, reset_in_s: float | None,
                       ticket: Ticket, now: float) -> None:
        """The answer to the first request of a server window: it opened in [sent, now]."""
        believed = reset_in_s is not None and reset_in_s == info.reset_in_s
        if believed and self._learn_windows and info.reset_resolution_s is not None:
            assert reset_in_s is not None
            if budget.length is None:
                budget.length = WindowLength(info.reset_resolution_s)
            budget.length.opened(ticket.sent_at, now, reset_in_s)
        if budget.opened_read is not None and ticket.sent_at <= budget.opened_read:
            return  # an older window than the newest one seen (answers arrive out of order)
        end = None if reset_in_s is None else now + reset_in_s + RESET_MARGIN_S
        learnt = _estimate(budget)
        if learnt is not None and self._learn_windows:
            end = min(end if end is not None else math.inf, now + learnt + LEARNT_MARGIN_S)
        if end is not None and end <= now:
            return  # that window is over already
        if budget.opened_in == budget.window and ticket.window == budget.window:
            # Our window's opening was seen already: the server has rolled before we did.
            budget.window += 1
            budget.used = 0
            budget.window_end = end
        elif end is not None:
            budget.window_end = end if budget.window_end is None else min(budget.window_end, end)
        budget.opened_read, budget.opened_in = now, budget.window

    def _window_continues(self, budget: _Budget, info: RateLimitInfo, reset_in_s: float,
                          ticket: Ticket | None, now: float) -> None:
        """Any other answer with a reset: it tells when its window ends, at the latest."""
        window_end = now + reset_in_s + RESET_MARGIN_S
        if budget.window_end is None:
            budget.window_end = window_end
            return
        # The earliest that answer's window can end: its reset may be rounded up by
        # `resolution`, and (for a seconds-until reset) was stated at any moment since sent.
        resolution = info.reset_resolution_s if info.reset_resolution_s is not None else 1.0
        sent = ticket.sent_at if ticket is not None else now
        if window_end - RESET_MARGIN_S - resolution - (now - sent) > budget.window_end:
            # A later window than the one we were counting: the server has rolled.
            budget.window += 1
            budget.used = 0
            budget.window_end = window_end
        elif ticket is not None and window_end < budget.window_end:
            # Sent in our current window: its end is an upper bound on ours too. (Without
            # a ticket it may be an answer from a window already over, which must not end
            # ours early.)
            budget.window_end = window_end

    def _plausible_reset(self, info: RateLimitInfo) -> float | None:
        """The reset to believe, capped by `max_rate_limit_wait`; each kind of doubtful
        header value is logged once per run (the header and the value)."""
        if info.reset_problem is not None:
            self._tell_once(info.reset_problem, f"{info.reset_problem}; ignoring it and "
                            f"assuming a {self._fallback_window_s(None):g}s window instead")
            return None
        reset = info.reset_in_s
        if reset is not None and self._max_wait_s is not None and reset > self._max_wait_s:
            header = info.reset_header or "the rate-limit reset"
            self._tell_once(f"{header} beyond max_rate_limit_wait",
                            f"{header} says the budget resets in {reset:.0f}s, more than "
                            f"max_rate_limit_wait ({self._max_wait_s:g}s): waiting at most "
                            "that long before trying again")
            return self._max_wait_s
        return reset

    def _tell_once(self, kind: str, message: str) -> None:
        key = re.sub(r"'[^']*'|\d+", "#", kind)  # one line per kind, whatever the values
        with self._lock:
            if key in self._told:
                return
            self._told.add(key)
        logger.warning("%s", message)

    def _fallback_window_s(self, window_s: float | None) -> float:
        """The window assumed when no header said when it ends (or was believed)."""
        window = window_s or DEFAULT_WINDOW_S
        return window if self._max_wait_s is None else min(window, self._max_wait_s)

    def penalize(self, scope: str, wait_s: float, ticket: Ticket | None = None) -> None:
        """A 429: nothing more in this scope until the server's moment has passed."""
        with self._lock:
            budget = self._budgets.setdefault(scope, _Budget())
            now = self._clock()
            budget.blocked_until = max(budget.blocked_until, now + wait_s + RESET_MARGIN_S)
            if budget.limit is not None:
                budget.used = budget.limit
            opened = budget.opened_read
            learnt_before = _estimate(budget)
            if ticket is not None and budget.length is not None and opened is not None \
                    and ticket.sent_at > opened:
                # The newest window was still open when this request arrived: it is longer
                # than learnt so far (the next wait is corrected; this one is the server's).
                budget.length.still_open_after(ticket.sent_at - opened)
            learnt = _estimate(budget)
        self._tell_learnt(scope, learnt_before, learnt, refused=True)

    @staticmethod
    def _tell_learnt(scope: str, before: float | None, after: float | None, *,
                     refused: bool) -> None:
        """One line when a scope's window length is first learnt or visibly corrected."""
        if after is None or (before is not None and abs(after - before) < LEARNT_NEWS_S):
            return
        if refused:
            logger.info("rate limit %s: a request was refused after the learnt window end; "
                        "windows are now taken to last %.2fs", scope, after)
        elif before is None:
            logger.info("rate limit %s: windows last %gs (learnt from the answers that open "
                        "them): waits end with the window, not at the rounded reset header",
                        scope, round(after, 2))
        else:
            logger.info("rate limit %s: windows now taken to last %.2fs (was %.2fs)",
                        scope, after, before)

    def _roll_window(self, budget: _Budget, now: float) -> None:
        if budget.window_end is not None and now >= budget.window_end:
            budget.used = 0
            budget.window_end = None
            budget.window += 1

    @staticmethod
    def _time_left(budget: _Budget, now: float) -> float:
        """Like `_wait_needed`, without guessing a window end (a read changes nothing)."""
        left = budget.blocked_until - now
        spent = budget.limit is not None and budget.used >= budget.limit
        if spent and budget.window_end is not None:
            left = max(left, budget.window_end - now)
        return max(left, 0.0)

    def _wait_needed(self, budget: _Budget, now: float) -> float:
        if now < budget.blocked_until:
            return budget.blocked_until - now
        if budget.limit is not None and budget.used >= budget.limit:
            if budget.window_end is None:
                # Spent, and no header said when the window ends yet: assume the longest
                # window seen so far (or a common one); the next answer corrects it.
                budget.window_end = now + self._fallback_window_s(budget.window_s)
            return max(budget.window_end - now, 0.01)
        return 0.0


def _opens(info: RateLimitInfo) -> bool:
    """The answer to the first request of a window: one request of the budget used. (With
    a budget of one, a 429 would say the same: nothing is learnt there.)"""
    return info.limit is not None and info.limit > 1 and info.remaining == info.limit - 1


def _estimate(budget: _Budget) -> float | None:
    return budget.length.estimate() if budget.length is not None else None
