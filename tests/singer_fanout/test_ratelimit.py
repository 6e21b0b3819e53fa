"""The rate limiter against a fake clock: no HTTP, no sleeping, exact arithmetic."""

from __future__ import annotations

from singer_fanout.ratelimit import RateLimiter, RateLimitInfo, read_reset


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_unknown_budget_never_blocks():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        limiter.acquire("token")
    assert clock.slept == []


def test_spent_budget_waits_for_the_servers_reset_then_refills():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe("token", RateLimitInfo(limit=5, remaining=5, reset_in_s=10))
    for _ in range(5):
        limiter.acquire("token")
    assert clock.slept == []
    limiter.acquire("token")  # the sixth must wait for the window to end
    assert 10.0 <= sum(clock.slept) <= 10.3
    waited = len(clock.slept)
    for _ in range(4):  # a fresh window: four more go straight through
        limiter.acquire("token")
    assert len(clock.slept) == waited


def test_server_count_wins_when_others_share_the_budget():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe("org:a", RateLimitInfo(limit=10, remaining=1, reset_in_s=30))
    limiter.acquire("org:a")
    limiter.acquire("org:a")
    assert sum(clock.slept) >= 30


def test_scopes_are_independent():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe("org:a", RateLimitInfo(limit=1, remaining=0, reset_in_s=60))
    limiter.acquire("org:b")
    assert clock.slept == []


def test_penalty_holds_the_scope_until_the_named_moment():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.penalize("token", 7)
    limiter.acquire("token")
    assert sum(clock.slept) >= 7


def test_spent_budget_without_reset_header_still_ends():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe("token", RateLimitInfo(limit=2, remaining=0, reset_in_s=None))
    limiter.acquire("token")
    assert 0 < sum(clock.slept) <= 61


def test_a_late_answer_from_the_previous_window_does_not_end_the_current_one_early():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe("token", RateLimitInfo(limit=3, remaining=2, reset_in_s=10))
    clock.now += 10.5  # the window rolled; three requests go out in the new one
    for _ in range(3):
        limiter.acquire("token")
    limiter.observe("token", RateLimitInfo(limit=3, remaining=2, reset_in_s=10))
    # An answer sent in the old window arrives late, saying "resets in 0 s".
    limiter.observe("token", RateLimitInfo(limit=3, remaining=0, reset_in_s=0))
    limiter.acquire("token")  # the budget of the new window is spent: this must wait
    assert clock.slept
    assert sum(clock.slept) >= 9


def test_a_guessed_window_uses_the_length_the_server_reported():
    # A budget below the concurrency: right after a 429's wait, nothing says when the next
    # window ends; the limiter must guess from the 1-second windows it saw, not sleep 60 s.
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.acquire("s")
    limiter.observe("s", RateLimitInfo(limit=2, remaining=0, reset_in_s=1))
    limiter.penalize("s", 1.0)
    for _ in range(3):
        limiter.acquire("s")
    assert sum(clock.slept) < 5


def test_waits_names_the_scope_holding_requests_and_for_how_long():
    clock = FakeClock()
    seen = []

    def sleep(seconds: float) -> None:
        seen.append(limiter.waits())  # what a progress line would read during the wait
        clock.sleep(seconds)

    limiter = RateLimiter(clock=clock, sleep=sleep)
    limiter.observe("org:a", RateLimitInfo(limit=1, remaining=1, reset_in_s=4))
    limiter.acquire("org:a")
    limiter.acquire("org:b")  # another scope with no limit known: never held
    assert limiter.waits() == []
    limiter.acquire("org:a")  # spent: held until the window resets
    first = seen[0]
    assert [(w.scope, w.waiting) for w in first] == [("org:a", 1)]
    assert 4.0 <= first[0].wait_s <= 4.1
    # The wait counts down while it lasts, and nothing is held once it is over.
    assert seen[-1][0].wait_s < first[0].wait_s
    assert limiter.waits() == []


def test_waits_after_a_429_says_until_the_servers_moment():
    clock = FakeClock()
    seen = []

    def sleep(seconds: float) -> None:
        seen.append(limiter.waits())
        clock.sleep(seconds)

    limiter = RateLimiter(clock=clock, sleep=sleep)
    limiter.penalize("token", 30)
    limiter.acquire("token")
    assert [(w.scope, round(w.wait_s)) for w in seen[0]] == [("token", 30)]


def test_reset_headers_in_the_wrong_unit_or_too_far_away_are_not_believed():
    now = 1_764_500_000.0

    def read(value: str, *, epoch: bool) -> tuple[float | None, str | None]:
        return read_reset({"X-RateLimit-Reset": value}, "X-RateLimit-Reset", epoch=epoch,
                          now=lambda: now)

    assert read(str(now + 30), epoch=True) == (30.0, None)
    assert read("30", epoch=False) == (30.0, None)
    assert read(str(now - 5), epoch=True) == (0.0, None)  # already past: no wait
    for value, epoch, doubt in [
        (str(int(now * 1000)), True, "epoch milliseconds"),
        ("30", True, "seconds until the reset, not an epoch"),
        (str(int(now + 30)), False, "an epoch, not seconds until"),
        (str(int(now + 3 * 86_400)), True, "more than any rate-limit window"),
        ("soon", False, "is not a number"),
    ]:
        seconds, problem = read(value, epoch=epoch)
        assert seconds is None
        assert problem is not None
        assert doubt in problem
        assert f"X-RateLimit-Reset: '{value}'" in problem


def test_no_header_derived_wait_exceeds_max_rate_limit_wait():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, max_wait_s=2.0)
    limiter.observe("s", RateLimitInfo(limit=1, remaining=0, reset_in_s=3600.0,
                                       reset_header="X-RateLimit-Reset"))
    start = clock.now
    limiter.acquire("s")
    assert clock.now - start <= 2.0 + 0.1
    # A reset that was not believed: the fallback window, capped the same way.
    limiter.observe("t", RateLimitInfo(limit=1, remaining=0, reset_in_s=None,
                                       reset_problem="X-RateLimit-Reset: 'x' is odd"))
    start = clock.now
    limiter.acquire("t")
    limiter.acquire("t")
    assert clock.now - start <= 2 * (2.0 + 0.1)
