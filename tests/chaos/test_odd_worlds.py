"""Odd but legal worlds and settings, each with a defined behaviour.

| case | defined behaviour |
|---|---|
| an account without services | its record lands; no services, metrics or bookmarks for it |
| a service created inside the window | metrics from its first day on, none invented before |
| a deleted / archived service | its record says so; metrics up to its last day; later |
|   | runs read its days not final yet and no day after its last one |
| start_date older than the vendor keeps | the window starts at the retention limit, with |
|   | one warning; the vendor never sees an out-of-retention request |
| start_date in the future | exit 2 before any request, naming start_date |
| end_date before start_date | exit 2 before any request, naming end_date |
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from singer_fanout.dates import utc_today
from tests.chaos.checks import (
    assert_each_key_once,
    assert_lands,
    truth_of,
    window,
)
from tests.chaos.configs import chaos_config
from tests.finality_reads import expected_reads, first_day_with_data
from tests.tap_runner import TapRun, run_tap
from tests.taps.conftest import BASE_TODAY, sandbox_config
from tests.truth import expected
from vendor_sandbox import SandboxConfig, run_sandbox
from vendor_sandbox.world import World, build_world

ODD = {"accounts": 4, "services_per_account": (0, 3), "deleted_service_rate": 0.4}
RETENTION_DAYS = {"x": 400, "y": 395}


@dataclass(frozen=True)
class Oddities:
    empty_account: str
    created: tuple[str, str, dt.date]  # account, service, first day
    deleted: tuple[str, str, dt.date]  # account, service, last day


def find_oddities(world: World, first: dt.date, last: dt.date) -> Oddities | None:
    empty = [a.id for a in world.accounts if not world.services[a.id]]
    services = [s for a in world.accounts for s in world.services[a.id]]
    created = [(s.account_id, s.id, s.created_day) for s in services
               if first < s.created_day < last and s.deleted is None]
    deleted = [(s.account_id, s.id, s.deleted_day) for s in services
               if s.deleted_day and first < s.deleted_day < last and s.created_day < first]
    if empty and created and deleted:
        return Oddities(empty[0], created[0], deleted[0])
    return None


def odd_world(vendor: str, first: dt.date, last: dt.date) -> tuple[SandboxConfig, Oddities]:
    """The first seed whose world has all three oddities inside the window.

    The layout is relative to the world's date, so the same seed is found every day.
    """
    for seed in range(500):
        config = sandbox_config(vendor, seed=seed, **ODD)
        found = find_oddities(build_world(config, BASE_TODAY), first, last)
        if found:
            return config, found
    raise AssertionError("no seed gives an empty account, a new and a deleted service")


@dataclass
class OddRuns:
    vendor: str
    config: dict[str, Any]
    truth: dict[str, Any]
    odd: Oddities
    first: TapRun
    second: TapRun  # a day later, from the first run's state
    days_read: dict[str, int]  # by the second run
    sandbox: SandboxConfig  # the world as of the first run


@pytest.fixture(scope="module", params=["x", "y"])
def odd(request: pytest.FixtureRequest, tmp_path_factory) -> OddRuns:
    vendor = str(request.param)
    tmp_path = tmp_path_factory.mktemp(f"odd-{vendor}")
    first_day, last_day = window(chaos_config(vendor, "http://unused"))
    sandbox_knobs, oddities = odd_world(vendor, first_day, last_day)
    tomorrow = BASE_TODAY + dt.timedelta(days=1)
    with run_sandbox(sandbox_knobs) as sandbox:
        config = chaos_config(vendor, sandbox.url)
        first = run_tap(vendor, config, tmp_path)
        sandbox.update(today=tomorrow)
        sandbox.reset_stats()
        later = chaos_config(vendor, sandbox.url, today=tomorrow)
        second = run_tap(vendor, later, tmp_path, state=first.final_state)
        days_read = sandbox.stats()["metric_days_by_service"]
    return OddRuns(vendor, config, truth_of(sandbox_knobs, config), oddities, first, second,
                   days_read, sandbox_knobs)


def test_odd_worlds_land_equal_to_truth(odd):
    assert odd.first.returncode == 0, odd.first.stderr[-3000:]
    assert odd.second.returncode == 0, odd.second.stderr[-3000:]
    assert_each_key_once(odd.first)
    assert_lands(odd.vendor, [odd.first], odd.truth)


def test_an_account_without_services_lands_alone(odd):
    account = odd.odd.empty_account
    assert account in {r["account_id"] for r in odd.first.records["accounts"]}
    assert all(r["account_id"] != account
               for stream in ("services", "metrics") for r in odd.first.records[stream])
    assert all(a != account for a, _ in odd.first.bookmarks())


def test_a_service_created_inside_the_window_starts_on_its_first_day(odd):
    account, service, created = odd.odd.created
    days = sorted(r["date"] for r in odd.first.records["metrics"] if r["service_id"] == service)
    assert days, "the new service's days did not land"
    assert days[0] == created.isoformat()
    assert odd.first.bookmarks()[(account, service)] == odd.config["end_date"]


def test_a_deleted_service_says_so_and_stops_on_its_last_day(odd):
    account, service, last = odd.odd.deleted
    record = next(r for r in odd.first.records["services"] if r["service_id"] == service)
    if odd.vendor == "x":
        assert record["deleted_at"].startswith(last.isoformat())
    else:
        assert record["archived"] is True
    days = sorted(r["date"] for r in odd.first.records["metrics"] if r["service_id"] == service)
    assert days[-1] == last.isoformat()
    # VendorX bookmarks its last day (its record says it); VendorY, which only says
    # "archived", the window's end. Either way the next run reads its days not final yet
    # and no new day after its last one (VendorY: until it finds days without data).
    bookmark = last if odd.vendor == "x" else dt.date.fromisoformat(odd.config["end_date"])
    assert odd.first.bookmarks()[(account, service)] == bookmark.isoformat()
    start, end = window(odd.config)
    assert odd.days_read == dict(expected_reads(odd.sandbox, end, end + dt.timedelta(days=1),
                                                start))


def test_start_date_before_retention_starts_at_the_retention_limit(vendor, tmp_path):
    if vendor not in RETENTION_DAYS:
        pytest.skip(f"vendor {vendor} documents no retention limit")
    knobs = {"accounts": 1, "services_per_account": (1, 1)}
    start = utc_today() - dt.timedelta(days=500)
    with run_sandbox(sandbox_config(vendor, **knobs)) as sandbox:
        config = chaos_config(vendor, sandbox.url, start_date=start.isoformat())
        run = run_tap(vendor, config, tmp_path)
        stats = sandbox.stats()
    assert run.returncode == 0, run.stderr[-3000:]
    warnings = [line for line in run.stderr.splitlines() if "older than the vendor keeps" in line]
    assert len(warnings) == 1, warnings
    assert set(stats["responses"]) == {"200"}, "an out-of-retention request reached the vendor"
    # Every day from the retention limit to the end was asked for (the tap's "today" is
    # the real one; a run that crosses midnight may shift the limit by a day).
    end = dt.date.fromisoformat(config["end_date"])
    limit = utc_today() - dt.timedelta(days=RETENTION_DAYS[vendor])
    ((service, days),) = stats["metric_days_by_service"].items()
    # None before the service existed either.
    limit = first_day_with_data(sandbox_config(vendor, **knobs), service, limit)
    assert days in {(end - limit).days + 1, (end - limit).days}
    assert_lands(vendor, [run], expected(sandbox_config(vendor, **knobs), start, end))


@pytest.mark.parametrize(
    ("setting", "dates"),
    [
        ("start_date", {"start_date": (utc_today() + dt.timedelta(days=10)).isoformat(),
                        "end_date": None}),
        ("end_date", {"start_date": (BASE_TODAY - dt.timedelta(days=3)).isoformat(),
                      "end_date": (BASE_TODAY - dt.timedelta(days=9)).isoformat()}),
    ],
)
def test_impossible_dates_stop_before_any_request(vendor, tmp_path, setting, dates):
    with run_sandbox(sandbox_config(vendor)) as sandbox:
        config = {k: v for k, v in {**chaos_config(vendor, sandbox.url), **dates}.items()
                  if v is not None}
        run = run_tap(vendor, config, tmp_path)
        requests = sandbox.stats()["requests_total"]
    assert run.returncode == 2
    assert requests == 0
    assert not run.records
    errors = [line for line in run.stderr.splitlines() if f"'{setting}'" in line]
    assert errors, run.stderr[-2000:]
    assert config[setting] in errors[0]  # the offending date itself is named
