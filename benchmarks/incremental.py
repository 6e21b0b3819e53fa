"""Incremental runs: requests of a second run against the days that are really due.

A world with ~30 % deleted services and days the vendor finalises late. A first run backfills;
three days later a second run reads again. Its requests (the sandbox's count of days read per
service) are compared with what the sandbox's truth says is due: the days not final at the
first run (of live services, and of deleted ones whose last days were not final yet) plus the
new days of live services. The old behaviour (a fixed lookback before every bookmark, for every
service, deleted ones included) is what `lookback_days: 7` + a state without `unsettled` did;
it is shown for comparison as the days a fixed 7-day (Y) / 3-day (X) / 2-day (Z, its old
default) lookback would read. VendorZ's days come from report jobs (one per run of
consecutive days due), so its "requests" count submits, polls and downloads.

    python benchmarks/incremental.py            # 40 accounts
    python benchmarks/incremental.py --quick    # 10 accounts
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import run_tap, sandbox_process, table
from tests.finality_reads import expected_reads
from vendor_sandbox import SandboxConfig
from vendor_sandbox.world import build_world

REAL_TODAY = dt.datetime.now(dt.timezone.utc).date()
T0 = REAL_TODAY - dt.timedelta(days=10)
START = T0 - dt.timedelta(days=30)
OLD_LOOKBACK = {"x": 3, "y": 7, "z": 2}
NO_LIMIT = 1_000_000
# VendorZ: reports ready quickly, polled soon, no client-side pacing.
VENDOR_KNOBS: dict[str, dict[str, Any]] = {
    "z": {"report_delay_s": 0.2, "client_id": "bench-client"}}
VENDOR_CONFIG: dict[str, dict[str, Any]] = {
    "z": {"report_poll_seconds": 0.2, "requests_per_second": NO_LIMIT,
          "client_id": "bench-client"}}


def incremental(vendor: str, accounts: int) -> list[Any]:
    knobs: dict[str, Any] = {"seed": 9, "accounts": accounts, "services_per_account": (3, 6),
                             "history_days": 45, "deleted_service_rate": 0.3,
                             "late_final_rate": 0.1, "late_final_days": 12, "world_date": T0,
                             "rate_limit": NO_LIMIT}
    later = T0 + dt.timedelta(days=3)
    config = {"start_date": START.isoformat(), "max_concurrency": 16,
              **VENDOR_CONFIG.get(vendor, {})}
    serving = {**knobs, **VENDOR_KNOBS.get(vendor, {})}
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "state.json"
        with sandbox_process(vendor, today=T0, **serving) as sandbox:
            first = run_tap(vendor, {"api_url": sandbox.url, **config,
                                     "end_date": (T0 - dt.timedelta(days=1)).isoformat()},
                            state_out=state)
        assert first.returncode == 0
        with sandbox_process(vendor, today=later, **serving) as sandbox:
            second = run_tap(vendor, {"api_url": sandbox.url, **config,
                                      "end_date": (later - dt.timedelta(days=1)).isoformat()},
                             state_in=state)
            stats = sandbox.stats()
    assert second.returncode == 0
    world = SandboxConfig(vendor=vendor, today=T0, **{k: v for k, v in knobs.items()  # type: ignore[arg-type]
                                                      if k != "rate_limit"})
    due = expected_reads(world, T0 - dt.timedelta(days=1), later - dt.timedelta(days=1), START)
    read = stats["metric_days_by_service"]
    services = build_world(world, T0).service_by_id.values()
    deleted = sum(1 for s in services if s.deleted is not None)
    # A fixed lookback: bookmark and `lookback` days before it, plus the new days, for every
    # service with a bookmark, deleted ones included.
    fixed = sum(OLD_LOOKBACK[vendor] + 1 + 3 for s in services
                if max(START, s.created_day) <= T0 - dt.timedelta(days=1))
    return [vendor, len(services), deleted, sum(read.values()), sum(due.values()),
            "yes" if read == dict(due) else "NO", fixed,
            f"{fixed / max(sum(read.values()), 1):.1f}x", stats["requests_total"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 accounts instead of 40")
    args = parser.parse_args()
    accounts = 10 if args.quick else 40
    print(f"# incremental benchmark ({'quick' if args.quick else 'full'}, {REAL_TODAY})")
    table("Second run, 3 days after a backfill (30 % deleted services, 10 % days finalised "
          "12 days late)",
          ["tap", "services", "deleted", "days read", "days due (truth)", "equal",
           "fixed lookback would read", "saved", "requests"],
          [incremental(vendor, accounts) for vendor in ("x", "y", "z")])


if __name__ == "__main__":
    main()
