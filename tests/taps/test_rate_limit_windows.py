"""A budget that binds is used window after window with no time lost between them and no
429: the tap learns where each window really ends (the reset header rounds it up to whole
seconds), proven from the sandbox's own list of the windows that opened."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import pytest

from tests.tap_runner import run_tap
from tests.taps.conftest import sandbox_config, tap_config
from tests.truth import assert_matches_truth, expected
from vendor_sandbox import run_sandbox

LIMIT = 8
WINDOW_S = 1.0
# One bucket that binds: VendorX budgets per token, VendorY per org (one org here).
WORLD = {"x": {"accounts": 2, "services_per_account": (24, 24)},
         "y": {"accounts": 1, "services_per_account": (5, 5)}}
BUCKET = {"x": "token"}
# Without learning, the wait for the rounded reset leaves ~0.55 s idle per boundary on
# average (uniform between the margin and a second); learnt, a round trip or so.
MAX_MEAN_IDLE_S = 0.25


def binding_run(vendor, tmp_path):
    knobs = {**WORLD[vendor], "rate_limit": LIMIT, "rate_limit_window_s": WINDOW_S}
    with run_sandbox(sandbox_config(vendor, **knobs)) as sandbox:
        run = run_tap(vendor, tap_config(vendor, sandbox.url), tmp_path)
        stats = sandbox.stats()
    assert run.returncode == 0, run.stderr[-3000:]
    buckets = stats["rate_windows"]
    windows = buckets[BUCKET.get(vendor) or max(buckets, key=lambda b: len(buckets[b]))]
    return run, stats, windows


# VendorZ is a token bucket without budget headers: it has its pacer (see pacing.py).
@pytest.mark.parametrize("vendor", ["x", "y"])
@pytest.mark.exclusive  # judges idle time between windows: nothing else may load the machine
def test_a_binding_budget_is_used_window_after_window_without_429(vendor, tmp_path):
    run, stats, windows = binding_run(vendor, tmp_path)
    requests = sum(window["requests"] for window in windows)
    assert stats["rate_limited"] == 0
    assert stats["early_retries"] == 0
    # Every window but the last is used in full: the fewest windows the work fits in.
    needed = math.ceil(requests / LIMIT)
    assert needed >= 6, f"the budget must bind for several windows ({requests} requests)"
    assert len(windows) == needed
    assert all(window["requests"] == LIMIT for window in windows[:-1])
    idle = [later["opened_s"] - earlier["closes_s"]
            for earlier, later in itertools.pairwise(windows)]
    assert sum(idle) / len(idle) <= MAX_MEAN_IDLE_S, f"idle between windows: {idle}"
    # What the log says: the window length learnt, once for the scope.
    scope = "token" if vendor == "x" else "org:"
    said = [line for line in run.stderr.splitlines()
            if f"rate limit {scope}" in line and "(learnt from the answers" in line]
    assert len(said) == 1, said
    assert f"windows last {WINDOW_S:g}s" in said[0]


def test_a_window_of_no_whole_seconds_costs_at_most_one_burst_of_429(tmp_path):
    # 1.5 s: the learnt length is a whole second, either 2 s (slower than the window, as
    # safe as the header) or 1 s (early once: the 429s of one burst prove it longer, and
    # no later window is refused). Which one depends on where in its second the run began.
    concurrency = 4
    knobs = {**WORLD["x"], "rate_limit": LIMIT, "rate_limit_window_s": 1.5}
    with run_sandbox(sandbox_config("x", **knobs)) as sandbox:
        config = tap_config("x", sandbox.url, max_concurrency=concurrency)
        run = run_tap("x", config, tmp_path)
        stats = sandbox.stats()
        truth = expected(sandbox.config, dt.date.fromisoformat(config["start_date"]),
                         dt.date.fromisoformat(config["end_date"]))
    assert run.returncode == 0, run.stderr[-3000:]
    assert_matches_truth("x", run.records, truth)
    assert stats["early_retries"] == 0
    assert stats["rate_limited"] <= concurrency
    refused_in = [window for window in stats["rate_windows"]["token"] if window["refused"]]
    assert len(refused_in) <= 1, refused_in
