"""Rate-limit headers are sanity-checked: a reset in epoch milliseconds, an epoch where the
contract says seconds-until, a moment days away or an hour off (a skewed clock) never holds
the run longer than `max_rate_limit_wait`. A value that cannot be believed is named once
(header and value) and replaced by a fallback window; the data all lands."""

from __future__ import annotations

import re

import pytest

from tests.chaos.checks import assert_each_key_once, assert_lands, truth_of
from tests.chaos.configs import chaos_config
from tests.tap_runner import run_tap
from tests.taps.conftest import sandbox_config
from vendor_sandbox import run_sandbox

MAX_WAIT_S = 1.5
# Small budgets in short windows, so that every run spends its budget several times.
BUDGET = {"x": {"rate_limit": 5, "rate_limit_window_s": 1.0},
          "y": {"rate_limit": 25, "rate_limit_window_s": 1.0}}
CASES = [
    # vendor, sandbox knobs, what the tap must say (once)
    ("x", {"reset_header": "epoch_ms"},
     "X-RateLimit-Reset: '{n}' looks like epoch milliseconds, not epoch seconds; ignoring it "
     "and assuming a 1.5s window instead"),
    ("y", {"reset_header": "epoch"},
     "X-RateLimit-Reset: '{n}' looks like an epoch, not seconds until the reset; ignoring it"),
    ("x", {"reset_skew_s": 10 * 86_400.0},
     "X-RateLimit-Reset: '{n}' is {n}s away, more than any rate-limit window (a clock far "
     "off?)"),
    ("x", {"reset_skew_s": 3600.0},
     "X-RateLimit-Reset says the budget resets in {n}s, more than max_rate_limit_wait (1.5s): "
     "waiting at most that long"),
    ("y", {"reset_skew_s": 3600.0},
     "X-RateLimit-Reset says the budget resets in {n}s, more than max_rate_limit_wait (1.5s)"),
]


@pytest.mark.parametrize(("vendor", "knobs", "said"), CASES,
                         ids=["x-epoch-ms", "y-epoch", "x-days-away", "x-hour-skew",
                              "y-hour-skew"])
def test_implausible_or_distant_resets_never_hold_the_run(tmp_path, vendor, knobs, said):
    with run_sandbox(sandbox_config(vendor, **BUDGET[vendor], **knobs)) as sandbox:
        config = chaos_config(vendor, sandbox.url, max_rate_limit_wait=MAX_WAIT_S,
                              max_concurrency=2)
        truth = truth_of(sandbox.config, config)
        # Before the headers were checked, each of these runs waited for hours.
        run = run_tap(vendor, config, tmp_path, timeout=90)
    assert run.returncode == 0, run.stderr[-3000:]
    assert_each_key_once(run)
    assert_lands(vendor, [run], truth)
    pattern = re.compile(r"\d+".join(re.escape(part) for part in said.split("{n}")))
    lines = [line for line in run.stderr.splitlines() if pattern.search(line)]
    assert len(lines) == 1, f"expected one line saying {said!r}, got {lines}"
    assert "WARNING" in lines[0]
