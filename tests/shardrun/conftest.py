"""Fixtures for the shard runner: a sandbox with enough accounts to spread over shards,
configs pointing at it, the runner's real CLI in a subprocess, and the Parquet read back."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from singer_fanout.dates import utc_today
from singer_fanout.settings import Shard
from tests.finality_reads import expected_reads, first_day_with_data, non_final_days
from tests.truth import expected
from vendor_sandbox import SandboxConfig, run_sandbox, truth_records

REPO = Path(__file__).resolve().parents[2]
CREDENTIAL = {"x": "api_token", "y": "api_key"}
SECRET = "sbx-shard-credential"
# The sandbox's frozen "today" sits behind the real one, as in tests/taps.
BASE_TODAY = utc_today() - dt.timedelta(days=5)
FIRST_DAY = BASE_TODAY - dt.timedelta(days=12)
LAST_DAY = BASE_TODAY - dt.timedelta(days=1)
FULL_RANGE_DAYS = (LAST_DAY - FIRST_DAY).days + 1
LOOKBACK = {"x": 3, "y": 7}
STREAMS = ("accounts", "services", "metrics")
RUN_TIMEOUT_S = 120


def world(vendor: str, **knobs: Any) -> SandboxConfig:
    defaults: dict[str, Any] = {
        "seed": 21, "today": BASE_TODAY, "world_date": BASE_TODAY, "accounts": 8,
        "services_per_account": (1, 3), "history_days": 20, "token": SECRET,
        # Vendor-default budgets (Y: 100 per minute per org) would make every run wait.
        "rate_limit": 100_000,
    }
    return SandboxConfig(**{"vendor": vendor, **defaults, **knobs})


def truth(vendor: str, **knobs: Any) -> dict[str, dict[tuple[str, ...], Any]]:
    return expected(world(vendor, **knobs), FIRST_DAY, LAST_DAY)


def rerun_reads(vendor: str = "y") -> dict[str, int]:
    """Days per service a run on the same day reads after a full run: those not final."""
    return dict(expected_reads(world(vendor), LAST_DAY, LAST_DAY, FIRST_DAY))


def resume_reads(entry: dict[str, Any], vendor: str = "y") -> int:
    """Days a run on the same day reads for a service whose saved state entry is `entry`.

    A run killed mid-way may have confirmed only part of a service's range (the bookmark
    covers the contiguous prefix of finished windows, and STATE is not written after every
    partition). From the truth alone: the days up to the bookmark the vendor had not marked
    final, and every day after it up to the last day the service can have data."""
    service = entry["context"]["service_id"]
    bookmark = dt.date.fromisoformat(str(entry["replication_key_value"])[:10])
    if bookmark >= LAST_DAY:
        return rerun_reads(vendor).get(service, 0)
    first = first_day_with_data(world(vendor), service, FIRST_DAY)
    unsettled = non_final_days(world(vendor), first, bookmark).get(service, 0)
    ends = dt.date.fromisoformat(entry["ends"]) if entry.get("ends") else LAST_DAY
    after = max(bookmark, first - dt.timedelta(days=1))
    return unsettled + max(0, (min(ends, LAST_DAY) - after).days)


def full_range_days(service: str, vendor: str = "y") -> int:
    """Days a first run reads for `service`: from its creation (or FIRST_DAY) on."""
    return (LAST_DAY - first_day_with_data(world(vendor), service, FIRST_DAY)).days + 1


def accounts_of(shard: Shard, vendor: str = "y") -> set[str]:
    return {line["account_id"] for line in truth_records(world(vendor))
            if line["type"] == "account" and shard.owns(line["account_id"])}


def services_by_account(vendor: str = "y") -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for line in truth_records(world(vendor)):
        if line["type"] == "service":
            out.setdefault(line["account_id"], set()).add(line["service_id"])
    return out


RUN_TOKEN = re.compile(r"_([0-9a-f]{8})-\d+-\d+\.snappy\.parquet$")


def run_token(file_name: str) -> str:
    """The 8 hex digits one target run puts in all its file names."""
    found = RUN_TOKEN.search(file_name)
    assert found is not None, file_name
    return found.group(1)


def partition_entries(state: dict[str, Any] | None) -> list[dict[str, Any]]:
    return list((state or {}).get("bookmarks", {}).get("metrics", {}).get("partitions", []))


def partitions(state: dict[str, Any] | None) -> list[tuple[str, str]]:
    return [(p["context"]["account_id"], p["context"]["service_id"])
            for p in partition_entries(state)]


class Shards:
    """The runner's CLI against one destination and one work dir under tmp_path."""

    def __init__(self, tmp_path: Path, vendor: str, url: str) -> None:
        self.vendor = vendor
        self.out = tmp_path / "out"
        self.work = tmp_path / "work"
        self.tap_config = tmp_path / "tap.json"
        self.target_config = tmp_path / "target.json"
        self.write_configs(url)

    def write_configs(self, url: str, **settings: Any) -> None:
        self.tap_config.write_text(json.dumps({
            "api_url": url, CREDENTIAL[self.vendor]: SECRET,
            "start_date": FIRST_DAY.isoformat(), "end_date": LAST_DAY.isoformat(),
            "max_concurrency": 4, "backoff_max_seconds": 0.2, "progress_interval_seconds": 1,
            "state_interval_seconds": 0.2, **settings,
        }))
        # Small batches: the target confirms state often, so a killed shard keeps progress.
        self.target_config.write_text(json.dumps({
            "destination_path": str(self.out), "max_batch_size": 5,
        }))

    def command(self, count: int, *extra: str, executor: str = "threads",
                workers: int = 3) -> list[str]:
        return [
            sys.executable, "-m", "shardrun", "run", "--shards", str(count),
            "--work-dir", str(self.work), "--tap", f"tap-vendor{self.vendor}",
            "--tap-config", str(self.tap_config), "--target", "target-parquet",
            "--target-config", str(self.target_config), "--executor", executor,
            "--workers", str(workers), *extra,
        ]

    def run(self, count: int, *extra: str, executor: str = "threads",
            workers: int = 3) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(count, *extra, executor=executor, workers=workers),
                              cwd=REPO, capture_output=True, text=True, check=False,
                              timeout=RUN_TIMEOUT_S)

    def manifest(self) -> dict[str, Any]:
        return json.loads((self.work / "manifest.json").read_text())

    def state(self, shard: Shard) -> dict[str, Any] | None:
        path = self.work / f"shard-{shard.index}-of-{shard.count}" / "state.json"
        return json.loads(path.read_text()) if path.exists() else None

    def files(self, stream: str = "metrics") -> set[str]:
        return {path.name for path in (self.out / stream).glob("*.parquet")}

    def dataset(self) -> dict[str, list[dict[str, Any]]]:
        return {stream: read_parquet(self.out / stream) for stream in STREAMS}


def read_parquet(folder: Path) -> list[dict[str, Any]]:
    """Every row of a stream's files, with values as the tap emitted them (ISO days,
    JSON arrays decoded), so they compare with the sandbox's truth."""
    if not list(folder.glob("*.parquet")):
        return []
    # The folder is the test's own tmp_path, not input from anywhere.
    query = f"SELECT * FROM read_parquet('{folder}/*.parquet', union_by_name = true)"  # noqa: S608
    relation = duckdb.sql(query)
    assert relation is not None
    names = relation.columns
    return [dict(zip(names, map(_as_emitted, row), strict=True)) for row in relation.fetchall()]


def _as_emitted(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith("["):
        return json.loads(value)  # arrays land as JSON text
    return value


@pytest.fixture
def sandbox_y() -> Iterator[Any]:
    with run_sandbox(world("y")) as running:
        yield running


@pytest.fixture
def shards_y(tmp_path: Path, sandbox_y: Any) -> Shards:
    return Shards(tmp_path, "y", sandbox_y.url)
