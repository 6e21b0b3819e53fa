"""Finality-aware incremental: a day is read again until the vendor marks it final, never after.

A world with ~30 % deleted services and days the vendor finalises 12 days late (far beyond
any lookback). Four runs: the backfill, three days later, when the late days are final, and
the same day again. Each run's requests (the sandbox's count of days read per service) must
equal what the truth says is due, and the union of the runs must equal the truth.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.finality_reads import at, expected_reads, non_final_days
from tests.tap_runner import TapRun, run_tap
from tests.taps.conftest import sandbox_config, tap_config
from tests.truth import assert_matches_truth, expected
from vendor_sandbox import run_sandbox
from vendor_sandbox.truth import day_finality
from vendor_sandbox.world import build_world

# The sandbox's days stay behind the tap's real clock, so "today" can move 20 days.
T0 = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=30)
START = T0 - dt.timedelta(days=25)
LATE_DAYS = 12
WORLD = {"today": T0, "world_date": T0, "accounts": 4, "services_per_account": (3, 4),
         "history_days": 40, "deleted_service_rate": 0.3, "late_final_rate": 0.15,
         "late_final_days": LATE_DAYS, "revision_rate": 1.0, "seed": 21}


@pytest.mark.slow
@pytest.mark.parametrize("vendor", ["x", "y", "z"])
def test_days_are_read_until_final_and_never_after(vendor, tmp_path):
    world = sandbox_config(vendor, **WORLD)
    runs: list[TapRun] = []
    with run_sandbox(world) as sandbox:

        def run_at(today: dt.date, state: dict | None) -> tuple[TapRun, dict[str, int]]:
            sandbox.update(today=today)
            sandbox.reset_stats()
            config = tap_config(vendor, sandbox.url, today=today, start_date=START.isoformat())
            run = run_tap(vendor, config, tmp_path, state=state)
            assert run.returncode == 0, run.stderr[-3000:]
            runs.append(run)
            return run, dict(sandbox.stats()["metric_days_by_service"])

        schedule = [T0, T0 + dt.timedelta(days=3), T0 + dt.timedelta(days=20),
                    T0 + dt.timedelta(days=20)]
        state = None
        for number, today in enumerate(schedule):
            run, reads = run_at(today, state)
            state = run.final_state
            if number:
                previous = at(world, schedule[number - 1])
                wanted = expected_reads(previous, schedule[number - 1] - dt.timedelta(days=1),
                                        today - dt.timedelta(days=1), START)
                assert reads == dict(wanted), f"run at {today}"
            truth = expected(at(world, today), START, today - dt.timedelta(days=1))
            everything = {k: [r for run in runs for r in run.records.get(k, [])]
                          for k in ("accounts", "services", "metrics")}
            assert_matches_truth(vendor, everything, truth)

    last = at(world, schedule[-1])
    # The same day again reads exactly the days not final yet, of live services and of
    # deleted ones whose last days are not final yet: nothing else.
    assert reads == dict(non_final_days(last, START, schedule[-1] - dt.timedelta(days=1)))
    # The world had days finalised late, read again far past the vendor's usual window ...
    usual = {"x": 4, "y": 7, "z": 2}[vendor]
    late = [day for days in day_finality(at(world, schedule[1])).values()
            for day, final in days.items() if not final and (schedule[1] - day).days > usual]
    assert late, "no late-finalised day: the test would prove nothing"
    # ... and deleted services, once their days are all final, are never asked for again.
    gone = build_world(last, schedule[-1])
    settled = {service.id for services in gone.services.values() for service in services
               if service.deleted is not None
               and all(day_finality(last)[service.id].values())}
    assert settled, "no deleted service: the test would prove nothing"
    assert not settled & set(reads)
