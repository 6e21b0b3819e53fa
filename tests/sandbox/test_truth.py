"""Ground truth equals what the API serves, through the Python API and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vendor_sandbox import SandboxConfig, run_sandbox, truth_records

from .helpers import TODAY, walk_x, walk_y, walk_z


@pytest.mark.parametrize(("vendor", "walk"), [("x", walk_x), ("y", walk_y), ("z", walk_z)])
def test_truth_is_exactly_what_the_api_serves(vendor, walk) -> None:
    config = SandboxConfig(
        vendor=vendor, seed=21, today=TODAY, accounts=4, history_days=60,
        deleted_service_rate=0.3, rate_limit=100_000, report_delay_s=0.05,
    )  # fmt: skip
    with run_sandbox(config) as box:
        served = walk(box.url, 60)
    truth = list(truth_records(config))
    assert served == truth
    kinds = {record["type"] for record in truth}
    assert kinds == {"account", "service", "metric"}


def test_y_truth_keeps_the_day_completeness() -> None:
    config = SandboxConfig(vendor="y", seed=21, today=TODAY, accounts=6)
    days = [r["data"] for r in truth_records(config) if r["type"] == "metric"]
    assert any(day["missing_hours"] for day in days)  # late hours of the last two days
    assert any(
        day["hours_reported"] < 24 and not day["missing_hours"] for day in days
    )  # creation days
    assert {day["revision"] for day in days} == set(range(1, 8))
    assert all(day["estimated"] == (day["revision"] < 7) for day in days)


def test_truth_cli_prints_the_same_records() -> None:
    command = [
        sys.executable, "-m", "vendor_sandbox", "truth", "--vendor", "y", "--seed", "4",
        "--today", "2026-11-20", "--accounts", "2", "--history-days", "10",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    printed = [json.loads(line) for line in completed.stdout.splitlines()]
    config = SandboxConfig(vendor="y", seed=4, today=TODAY, accounts=2, history_days=10)
    assert printed == list(truth_records(config))
