"""Retries, rate limits, partial answers and expired cursors, proven from sandbox counts."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.tap_runner import run_tap
from tests.taps.conftest import sandbox_config, tap_config
from tests.truth import assert_matches_truth, expected
from vendor_sandbox import run_sandbox


def run_against(vendor, tmp_path, knobs, **settings):
    with run_sandbox(sandbox_config(vendor, **knobs)) as sandbox:
        config = tap_config(vendor, sandbox.url, **settings)
        run = run_tap(vendor, config, tmp_path)
        stats = sandbox.stats()
    truth = expected(sandbox_config(vendor, **knobs), dt.date.fromisoformat(config["start_date"]),
                     dt.date.fromisoformat(config["end_date"]))
    return run, stats, truth


def test_transient_errors_are_retried_and_nothing_is_lost(vendor, tmp_path):
    knobs = {"error_5xx_rate": 0.15, "retry_after_503_rate": 0.05, "retry_after_s": 1}
    if vendor == "y":
        knobs |= {"html_502_rate": 0.05, "partial_200_rate": 0.1, "expired_cursor_rate": 0.1,
                  "max_page_size": 50}
    run, stats, truth = run_against(vendor, tmp_path, knobs, max_retries=8, page_size=50)
    assert run.returncode == 0, run.stderr[-3000:]
    injected = stats["faults"]
    assert injected["error_5xx"] > 0
    assert injected["retry_after_503"] > 0
    if vendor == "y":
        assert injected["html_502"] > 0
        assert injected["partial_200"] > 0
        assert injected["expired_cursor"] > 0
    assert_matches_truth(vendor, run.records, truth)


def test_stalled_responses_time_out_and_are_retried(vendor, tmp_path):
    run, stats, truth = run_against(
        vendor, tmp_path, {"stall_rate": 0.3, "stall_s": 3}, request_timeout=0.5, max_retries=8
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert stats["faults"]["stall"] > 0
    assert_matches_truth(vendor, run.records, truth)


# Budgets that bind hard on these runs. VendorZ sends no budget headers: its tap keeps to
# the rate the vendor publishes (20 per second), here with a small burst of 10.
BINDING_BUDGET = {"z": {"rate_limit": 10, "rate_limit_window_s": 0.5}}


def test_rate_limit_is_respected(vendor, tmp_path):
    # A budget of 15 requests per 2 s window binds hard on this run (~100+ requests).
    budget = BINDING_BUDGET.get(vendor, {"rate_limit": 15, "rate_limit_window_s": 2.0})
    run, stats, truth = run_against(vendor, tmp_path, budget, max_concurrency=8)
    assert run.returncode == 0, run.stderr[-3000:]
    assert_matches_truth(vendor, run.records, truth)
    assert stats["early_retries"] == 0, "a request came before the server said it may"
    assert stats["rate_limited"] <= 0.05 * stats["requests_total"]


def test_429_bursts_wait_as_the_server_says(vendor, tmp_path):
    # A tiny budget and high concurrency provoke 429s; the client must then wait for
    # Retry-After (X) or the reset (Y), never come back early.
    run, stats, truth = run_against(
        vendor, tmp_path, {"rate_limit": 6, "rate_limit_window_s": 1.0}, max_concurrency=12,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert_matches_truth(vendor, run.records, truth)
    assert stats["early_retries"] == 0


@pytest.mark.parametrize("vendor", ["y"])
def test_vendor_y_cursor_expiry_restarts_the_listing(vendor, tmp_path):
    run, stats, truth = run_against(
        # Pages of 40 rows: a day (72 rows) takes one cursor, so each listing restart has a
        # fresh 10 % chance and six expiries in a row are a one-in-a-million event.
        vendor, tmp_path, {"expired_cursor_rate": 0.1, "max_page_size": 40}, page_size=40,
        max_retries=2,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert stats["faults"]["expired_cursor"] > 0
    assert "restarting the listing" in run.stderr
    assert_matches_truth(vendor, run.records, truth)
