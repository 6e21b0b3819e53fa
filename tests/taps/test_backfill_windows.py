"""A long backfill is split into request windows fetched concurrently, bookmarked by prefix."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.tap_runner import run_tap
from tests.taps.conftest import BASE_TODAY, sandbox_config, tap_config
from tests.truth import assert_matches_truth, expected
from vendor_sandbox import run_sandbox

# One service with its whole history: every day of the backfill has data.
ONE_SERVICE = {"accounts": 1, "services_per_account": (1, 1), "deleted_service_rate": 0.0,
               "seed": 1}


def test_windows_of_one_service_run_concurrently_and_equal_truth(tmp_path):
    knobs = {**ONE_SERVICE, "latency_ms": 30}
    with run_sandbox(sandbox_config("y", **knobs)) as sandbox:
        config = tap_config("y", sandbox.url)
        windowed = run_tap("y", config, tmp_path)
        assert windowed.returncode == 0, windowed.stderr[-3000:]
        concurrent = sandbox.stats()["max_in_flight"]
        sandbox.reset_stats()
        one_by_one = run_tap("y", {**config, "partition_concurrency": 1}, tmp_path)
        assert one_by_one.returncode == 0, one_by_one.stderr[-3000:]
        sequential = sandbox.stats()["max_in_flight"]
    # 20 days of one service: the old way kept one request in flight, now the workers share it.
    assert sequential == 1
    assert concurrent == config["max_concurrency"]
    first = dt.date.fromisoformat(config["start_date"])
    truth = expected(sandbox_config("y", **knobs), first, BASE_TODAY - dt.timedelta(days=1))
    assert len(truth["metrics"]) == 20
    for run in (windowed, one_by_one):
        assert_matches_truth("y", run.records, truth)
        assert len(run.records["metrics"]) == 20  # every day once
        assert list(run.bookmarks().values()) == [config["end_date"]]


@pytest.mark.parametrize("vendor", ["x", "y"])  # VendorZ's reports are jobs, not windows
def test_a_failed_window_keeps_the_days_before_it_and_the_next_run_fills_the_rest(
    vendor, tmp_path
):
    # X answers 31 days a call: 70 days make three windows; Y one call a day.
    start = BASE_TODAY - dt.timedelta(days=70)
    failing = start + dt.timedelta(days=40)  # inside X's second window
    knobs = {**ONE_SERVICE, "history_days": 80}
    with run_sandbox(sandbox_config(vendor, **knobs, fail_days=frozenset({failing}))) as sandbox:
        config = tap_config(vendor, sandbox.url, start_date=start.isoformat(), max_retries=0)
        first = run_tap(vendor, config, tmp_path)
        assert first.returncode == 1, first.stderr[-3000:]  # a partial failure
        sandbox.update(fail_days=frozenset())
        sandbox.reset_stats()
        second = run_tap(vendor, config, tmp_path, state=first.final_state)
        assert second.returncode == 0, second.stderr[-3000:]
        stats = sandbox.stats()

    window_start = {"x": start + dt.timedelta(days=31), "y": failing}[vendor]
    # The bookmark covers the windows before the failed one, and all of their days went out.
    assert list(first.bookmarks().values()) == [(window_start - dt.timedelta(days=1)).isoformat()]
    days_out = {r["date"] for r in first.records["metrics"]}
    assert {(start + dt.timedelta(days=n)).isoformat()
            for n in range((window_start - start).days)} <= days_out
    assert failing.isoformat() not in days_out
    # The next run starts at the bookmark (minus the lookback), not at start_date.
    lookback = {"x": 3, "y": 7}[vendor]
    end = dt.date.fromisoformat(config["end_date"])
    reread_from = window_start - dt.timedelta(days=1 + lookback)
    assert sum(stats["metric_days_by_service"].values()) == (end - reread_from).days + 1
    combined = {k: first.records.get(k, []) + second.records.get(k, [])
                for k in ("accounts", "services", "metrics")}
    assert_matches_truth(vendor, combined, expected(sandbox_config(vendor, **knobs), start, end))
