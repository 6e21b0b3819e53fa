"""One run emits a key at most once: an account created while the tap pages through the
account listing shifts every later page by one (page numbers for VendorX and VendorZ, offset
cursors for VendorY), so one account is listed twice. It is emitted once, and its services and
metrics are synced once."""

from __future__ import annotations

import datetime as dt
import json

from tests.chaos.checks import assert_each_key_once, assert_lands, truth_of
from tests.chaos.configs import chaos_config
from tests.tap_runner import run_tap
from tests.taps.conftest import sandbox_config
from vendor_sandbox import run_sandbox

LISTING = {"x": "GET /v1/accounts", "y": "GET /api/v2/orgs", "z": "GET /v3/workspaces"}
# Requests until the account listing's first page was answered (VendorZ: a token first).
FIRST_PAGE_READ = {"x": 1, "y": 1, "z": 2}


def test_a_listing_that_shifts_mid_run_emits_and_syncs_each_account_once(vendor, tmp_path):
    summary_path = tmp_path / "summary.json"
    # One item per page, and the new account appears right after the first page was read.
    with run_sandbox(sandbox_config(vendor, late_account_after=FIRST_PAGE_READ[vendor])
                     ) as sandbox:
        config = chaos_config(vendor, sandbox.url, page_size=1, summary_path=str(summary_path))
        if vendor == "y":  # one usage row per page too: keep the window to two days
            config["start_date"] = (dt.date.fromisoformat(config["end_date"])
                                    - dt.timedelta(days=1)).isoformat()
        truth = truth_of(sandbox_config(vendor), config)
        run = run_tap(vendor, config, tmp_path)
        stats = sandbox.stats()
    assert run.returncode == 0, run.stderr[-3000:]
    # The shift really happened: one page more than the accounts there were at the start.
    listing = LISTING[vendor]
    assert stats["requests"][listing] == len(truth["accounts"]) + 1, stats
    assert "listed twice (the listing shifted while it was read" in run.stderr
    assert_each_key_once(run)
    assert_lands(vendor, [run], truth)
    summary = json.loads(summary_path.read_text())
    assert summary["streams"]["services"]["partitions_ok"] == len(truth["accounts"])
    assert summary["streams"]["metrics"]["partitions_ok"] == len(truth["services"])
