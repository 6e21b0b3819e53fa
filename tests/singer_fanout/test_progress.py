"""The progress estimate against a fake clock: what the run knows, what it expects, when it
says it cannot tell yet."""

from __future__ import annotations

import datetime as dt

import pytest

from singer_fanout.progress import (
    WorkEstimator,
    describe_eta,
    describe_partitions,
    describe_retries,
    describe_waits,
)
from singer_fanout.ratelimit import ScopeWait


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run_one(work: WorkEstimator, clock: Clock, stream: str, seconds: float,
            children: dict[str, int] | None = None) -> None:
    ticket = work.started(stream)
    clock.now += seconds
    work.finished(ticket, children)


def listing_found(work: WorkEstimator, clock: Clock, listing: str, seconds: float, *,
                  child: str, count: int, child_lists: bool) -> None:
    """One `listing` partition ran for `seconds` and found `count` partitions of `child`."""
    run_one(work, clock, listing, seconds, {child: count})
    for _ in range(count):
        work.scheduled(child, lists_children=child_lists)


def test_no_eta_while_a_stream_with_work_left_has_no_finished_partition():
    clock = Clock()
    work = WorkEstimator(concurrency=2, clock=clock)
    work.scheduled("accounts", lists_children=True)
    estimate = work.estimate()
    assert estimate.discovering
    assert estimate.eta_s is None
    assert describe_eta(estimate) == ("ETA unknown: listings are still discovering partitions, "
                                      "no 'accounts' partition has finished yet")
    listing_found(work, clock, "accounts", 1.0, child="services", count=4, child_lists=True)
    # Services listings are known, but what they find and what it costs is not.
    assert work.estimate().eta_s is None
    assert work.estimate().unmeasured == "services"


def test_pending_listings_count_for_what_finished_ones_found():
    clock = Clock()
    work = WorkEstimator(concurrency=2, clock=clock)
    work.scheduled("accounts", lists_children=True)
    listing_found(work, clock, "accounts", 1.0, child="services", count=4, child_lists=True)
    # One services listing found 3 metrics partitions; one of those took 2 s.
    listing_found(work, clock, "services", 1.0, child="metrics", count=3, child_lists=False)
    run_one(work, clock, "metrics", 2.0)
    estimate = work.estimate()
    assert estimate.discovering
    # 3 listings to go, ~3 metrics each; 2 metrics known and not done.
    assert estimate.expected_more == 9
    assert describe_partitions(estimate, failed=0) == (
        "3/8+ partitions done (~17 expected) (0 failed)")
    # Work left: 3 listings x (1 s + 3 x 2 s) + 2 metrics x 2 s = 25 worker-seconds, 2 workers.
    assert estimate.eta_s == pytest.approx(12.5)
    assert "still running" in describe_eta(estimate)


def test_once_listings_are_done_the_eta_is_the_known_work_over_the_workers():
    clock = Clock()
    work = WorkEstimator(concurrency=4, clock=clock)
    work.scheduled("services", lists_children=True)
    listing_found(work, clock, "services", 0.5, child="metrics", count=9, child_lists=False)
    run_one(work, clock, "metrics", 3.0)
    estimate = work.estimate()
    assert not estimate.discovering
    assert describe_partitions(estimate, failed=1) == "2/10 partitions done (1 failed)"
    assert estimate.eta_s == pytest.approx(8 * 3.0 / 4)
    # A partition in flight for 2 s raises the cost per partition (short ones finish first):
    # 3 + 2 worker-seconds for one and a half metrics partitions done. 8 to go at 10/3 s,
    # less the 2 s the one in flight has put in.
    work.started("metrics")
    clock.now += 2.0
    assert work.estimate().eta_s == pytest.approx((8 * 5.0 / 1.5 - 2.0) / 4)
    assert work.estimate().in_flight == 1
    assert describe_eta(work.estimate()) == "ETA ~6s"


def test_fewer_partitions_left_than_workers_do_not_divide_by_idle_workers():
    clock = Clock()
    work = WorkEstimator(concurrency=16, clock=clock)
    for _ in range(3):
        work.scheduled("metrics", lists_children=False)
    run_one(work, clock, "metrics", 4.0)
    assert work.estimate().eta_s == pytest.approx(4.0)  # two left, side by side


def test_retries_and_rate_limit_waits_read_as_a_person_would_say_them():
    assert describe_retries(17, {}) == "17 retries"
    assert describe_retries(17, {"HTTP 503": 3, "timeout": 2}) == (
        "17 retries (5 since the last line: 3 HTTP 503, 2 timeout)")
    now = dt.datetime(2026, 11, 30, 10, 0, 0, tzinfo=dt.timezone.utc)
    waits = [ScopeWait(f"org:o-{n}", 65.2 - n, n) for n in range(1, 6)]
    assert describe_waits(waits, now) == (
        "; waiting on rate limits: org:o-1 until 10:01:04 UTC (1 request held), "
        "org:o-2 until 10:01:03 UTC (2 requests held), org:o-3 until 10:01:02 UTC "
        "(3 requests held), and 2 more scopes")
    assert describe_waits([], now) == ""
