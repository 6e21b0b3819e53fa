"""What a newcomer does: meltano install, meltano run for each vendor, run again.

The Parquet files are read back with pyarrow and compared with the sandbox's truth.
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow.dataset as ds
import pytest

from singer_fanout.dates import utc_today
from tests.finality_reads import last_days
from tests.truth import assert_matches_truth, expected
from vendor_sandbox import SandboxConfig

# Meltano runs in the session's installed project: tens of seconds per test.
pytestmark = pytest.mark.slow

LOOKBACK = {"x": 3, "y": 7}


def parquet_records(directory) -> list[dict]:
    if not directory.exists():
        return []
    table = ds.dataset(directory, format="parquet").to_table()
    rows = table.to_pylist()
    for row in rows:  # back to the tap's JSON shapes, for comparison with the truth
        for key, value in row.items():
            if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                row[key] = value.isoformat()
            elif isinstance(value, dt.datetime):
                row[key] = value.strftime("%Y-%m-%dT%H:%M:%SZ")
            elif isinstance(value, str) and value.startswith("["):
                row[key] = json.loads(value)  # the target stores arrays as JSON text
    return rows


@pytest.mark.parametrize("vendor", ["x", "y"])
def test_run_twice_lands_truth_and_is_incremental(project, vendor):
    today = utc_today()
    output = project.root / "output" / f"vendor{vendor}"
    first = project.meltano("run", f"tap-vendor{vendor}", "target-parquet")
    assert first.returncode == 0, first.stderr[-3000:]
    first_summary = json.loads((output / "_run_summary.json").read_text())

    records = {s: parquet_records(output / s) for s in ("accounts", "services", "metrics")}
    truth = expected(SandboxConfig(vendor=vendor, seed=0, today=today),
                     today - dt.timedelta(days=30), today - dt.timedelta(days=1))
    assert_matches_truth(vendor, records, truth)

    second = project.meltano("run", f"tap-vendor{vendor}", "target-parquet")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "state" in second.stderr.lower()
    second_summary = json.loads((output / "_run_summary.json").read_text())
    services = len(truth["services"])
    # The second run only re-read each service's lookback window (plus the day after the
    # bookmark's look-back start), not its whole history.
    assert second_summary["streams"]["metrics"]["records"] <= services * (LOOKBACK[vendor] + 1)
    assert first_summary["streams"]["metrics"]["records"] > 2 * services * (LOOKBACK[vendor] + 1)

    state = project.meltano("state", "get", f"dev:tap-vendor{vendor}-to-target-parquet")
    assert state.returncode == 0, state.stderr[-2000:]
    bookmarks = json.loads(state.stdout)["singer_state"]["bookmarks"]["metrics"]["partitions"]
    # Each service's bookmark is the last day it had to sync: yesterday, or a deleted VendorX
    # service's deletion day.
    assert {(p["context"]["account_id"], p["context"]["service_id"]): p["replication_key_value"]
            for p in bookmarks} == last_days(vendor, records["services"],
                                             today - dt.timedelta(days=30),
                                             (today - dt.timedelta(days=1)).isoformat())


def test_config_list_redacts_the_credentials(project):
    secrets = {"TAP_VENDORX_API_TOKEN": "x-token-5d2f8a", "TAP_VENDORY_API_KEY": "y-key-91c3e7"}
    for plugin in ("tap-vendorx", "tap-vendory"):
        listing = project.meltano("config", "list", plugin, env=secrets)
        assert listing.returncode == 0, listing.stderr[-2000:]
        assert "current value: (redacted)" in listing.stdout
        assert not any(secret in listing.stdout for secret in secrets.values())
