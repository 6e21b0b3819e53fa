"""Fixtures for tap tests: a sandbox per vendor on loopback, and configs pointing at it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from singer_fanout.dates import utc_today
from tests.registry import BY_VENDOR, CREDENTIAL, VENDORS
from vendor_sandbox import SandboxConfig, run_sandbox

SECRET = "sbx-Zq8w-credential-that-must-never-leak"
# The sandbox's frozen "today" sits a few days back so tests can move it forward while the
# tap's own clock (real today) stays ahead of it.
BASE_TODAY = utc_today() - dt.timedelta(days=5)


def sandbox_config(vendor: str, **knobs: Any) -> SandboxConfig:
    defaults: dict[str, Any] = {
        "seed": 11, "today": BASE_TODAY, "world_date": BASE_TODAY, "accounts": 3,
        "services_per_account": (2, 3),
        "history_days": 30, "token": SECRET,
        # Vendor-default budgets (Y: 100 per minute per org) would make every test wait;
        # the rate-limit tests set their own.
        "rate_limit": 100_000,
        **BY_VENDOR[vendor]["sandbox_knobs"],
    }
    return SandboxConfig(vendor=vendor, **{**defaults, **knobs})


def tap_config(vendor: str, url: str, today: dt.date = BASE_TODAY, **settings: Any) -> dict:
    return {
        "api_url": url,
        CREDENTIAL[vendor]: SECRET,
        "start_date": (BASE_TODAY - dt.timedelta(days=20)).isoformat(),
        # The tap's "yesterday" is real time; pin it to the sandbox's frozen one.
        "end_date": (today - dt.timedelta(days=1)).isoformat(),
        "max_concurrency": 4,
        "backoff_max_seconds": 0.2,
        "progress_interval_seconds": 1,
        **BY_VENDOR[vendor]["test_settings"],
        **settings,
    }


@pytest.fixture(params=VENDORS)
def vendor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sandbox(vendor: str) -> Iterator[Any]:
    with run_sandbox(sandbox_config(vendor)) as running:
        yield running
