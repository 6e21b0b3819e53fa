"""The limiter learns where a window really ends, against a fake clock and a model of the
contract's fixed window (opens with its first request; reset rounded up to whole seconds).
The same behaviour over real HTTP is in tests/taps/test_rate_limit_windows.py."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest

from singer_fanout.ratelimit import RateLimiter, RateLimitInfo
from singer_fanout.window_length import WindowLength
from tests.singer_fanout.test_ratelimit import FakeClock

ROUND_TRIP_S = 0.02


class FixedWindowServer:
    """A window opens with the first request after the last one closed and lasts
    `window_s`; answers say the reset as an epoch second rounded up (the fake clock's)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self.opened: list[float] = []
        self.count = 0
        self.refused = 0

    def answer(self, at: float) -> tuple[int, float]:
        """(remaining, window end) for a request arriving at `at`."""
        if not self.opened or at >= self.opened[-1] + self.window_s:
            self.opened.append(at)
            self.count = 0
        self.count += 1
        self.refused += self.count > self.limit
        return max(0, self.limit - self.count), self.opened[-1] + self.window_s

    def idle_s(self) -> list[float]:
        """Between each window's close and the next one's opening."""
        return [later - (earlier + self.window_s)
                for earlier, later in itertools.pairwise(self.opened)]


def send(limiter: RateLimiter, server: FixedWindowServer, clock: FakeClock,
         resolution: float | None = 1.0) -> None:
    ticket = limiter.acquire("token")
    clock.now += ROUND_TRIP_S / 2
    remaining, end = server.answer(clock.now)
    clock.now += ROUND_TRIP_S / 2
    info = RateLimitInfo(server.limit, remaining, math.ceil(end) - clock.now,
                         reset_resolution_s=resolution)
    limiter.observe("token", info, ticket)
    if server.count > server.limit:
        limiter.penalize("token", max(1, math.ceil(end - clock.now)), ticket)


def run(limiter: RateLimiter, server: FixedWindowServer, clock: FakeClock, requests: int,
        resolution: float | None = 1.0) -> None:
    for _ in range(requests):
        send(limiter, server, clock, resolution)


def test_waits_end_at_the_learnt_window_end_not_the_rounded_header():
    clock = FakeClock()
    clock.now = 1000.37  # a window end well inside a second: the header rounds it up
    server = FixedWindowServer(limit=5, window_s=10.0)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    run(limiter, server, clock, 5 * 6)
    assert server.refused == 0
    assert len(server.opened) == 6
    # The next window opens at most a round trip (plus margin) after the previous closed.
    assert all(0 <= idle <= ROUND_TRIP_S + 0.01 for idle in server.idle_s()), server.idle_s()
    assert limiter.learnt_window_s("token") == 10.0


def test_without_learning_each_window_waits_for_the_rounded_header():
    clock = FakeClock()
    clock.now = 1000.37
    server = FixedWindowServer(limit=5, window_s=10.0)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, learn_windows=False)
    run(limiter, server, clock, 5 * 6)
    assert server.refused == 0
    # ceil(end) - end: the second paid at every window this change removes.
    assert all(idle > 0.5 for idle in server.idle_s()), server.idle_s()


def test_nothing_is_learnt_when_the_taps_rounding_is_unknown():
    clock = FakeClock()
    clock.now = 1000.37
    server = FixedWindowServer(limit=5, window_s=10.0)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    run(limiter, server, clock, 5 * 4, resolution=None)
    assert server.refused == 0
    assert limiter.learnt_window_s("token") is None
    assert all(idle > 0.5 for idle in server.idle_s())


def test_a_window_longer_than_learnt_is_corrected_after_one_429():
    # 10.5 s is no whole number of seconds: the first guess (10 s) is early once, the
    # 429 that follows proves the window longer, and no later window is refused.
    clock = FakeClock()
    clock.now = 1000.2  # the first opening's interval holds 10 s, not 11 s
    server = FixedWindowServer(limit=5, window_s=10.5)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    run(limiter, server, clock, 5 * 8)
    assert 1 <= server.refused <= 2
    refused = server.refused
    run(limiter, server, clock, 5 * 4)
    assert server.refused == refused
    learnt = limiter.learnt_window_s("token")
    assert learnt is not None
    assert 10.5 <= learnt <= 11.0


def test_a_late_answer_from_the_last_window_does_not_hold_or_open_the_new_one():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    info = RateLimitInfo(3, 2, 10.0, reset_resolution_s=1.0)
    old = limiter.acquire("token")
    limiter.observe("token", dataclasses.replace(info, remaining=2), old)
    late = [limiter.acquire("token") for _ in range(2)]
    limiter.acquire("token")  # spent: waits for the window to end (rolls)
    assert 9.9 <= sum(clock.slept) <= 10.1
    slept = len(clock.slept)
    # An answer to a request sent in the old window arrives now, saying "0 left, resets
    # in 0 s": it must neither end the new window at once nor count against it.
    limiter.observe("token", dataclasses.replace(info, remaining=0, reset_in_s=0.0), late[0])
    limiter.acquire("token")
    assert len(clock.slept) == slept  # the second request of the new window: not held


def test_window_length_takes_the_largest_whole_second_and_starts_over_on_contradiction():
    length = WindowLength(1.0)
    assert length.estimate() is None
    length.opened(sent=100.0, read=100.02, reset_in_s=10.6)  # (9.58, 10.62]
    assert length.estimate() == 10.0
    length.opened(sent=200.0, read=200.02, reset_in_s=11.0)  # (9.98, 11.02]: both hold 10
    assert length.estimate() == 10.0
    length.still_open_after(10.2)  # refused 10.2 s after the opening: longer than 10
    assert length.estimate() == pytest.approx(10.62)
    assert length.restarts == 0
    length.opened(sent=300.0, read=300.02, reset_in_s=30.0)  # the vendor changed its window
    assert length.restarts == 1
    assert length.estimate() == 30.0
