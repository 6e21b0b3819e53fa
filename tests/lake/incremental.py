"""Ten daily incremental runs of tap-vendorx into a lake, and the lake's latest-per-key view.

The sandbox's 'today' moves one day per run over a pinned world, so every run adds a day
and re-reads the days the vendor has not finalised yet: the lake fills with small files
and duplicate keys, as a real one does over ten days.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from singer_fanout.dates import utc_today
from target_parquet_lake.load_metadata import key_properties_of
from tests.lake.lake_io import dataset, json_shaped, latest_rows, run_target
from tests.tap_runner import run_tap
from tests.truth import assert_matches_truth, expected
from vendor_sandbox import SandboxConfig, run_sandbox

STREAMS = ("accounts", "services", "metrics")
TOKEN = "lake-runs-token-3e9a"
# Ten runs must stay behind the tap's own (real) clock.
FIRST_TODAY = utc_today() - dt.timedelta(days=14)


def world(today: dt.date, *, accounts: int = 3) -> SandboxConfig:
    return SandboxConfig(vendor="x", seed=8, today=today, world_date=FIRST_TODAY,
                         accounts=accounts, services_per_account=(2, 3), history_days=30,
                         token=TOKEN, rate_limit=100_000)


def start_date() -> dt.date:
    return FIRST_TODAY - dt.timedelta(days=10)


def incremental_runs(target_config: dict[str, Any], workdir: Path, *, runs: int = 10,
                     accounts: int = 3) -> dict[str, Any]:
    """Run tap-vendorx | target-parquet `runs` times, a day apart; returns the final truth."""
    state: dict[str, Any] | None = None
    today = FIRST_TODAY
    for day in range(runs):
        today = FIRST_TODAY + dt.timedelta(days=day)
        with run_sandbox(world(today, accounts=accounts)) as sandbox:
            tap = run_tap("x", {
                "api_url": sandbox.url, "api_token": TOKEN, "max_concurrency": 4,
                "start_date": start_date().isoformat(),
                "end_date": (today - dt.timedelta(days=1)).isoformat(),
            }, workdir, state=state)
        assert tap.returncode == 0, tap.stderr[-2000:]
        state = tap.final_state
        run_target(target_config, tap.stdout.splitlines())
    return expected(world(today, accounts=accounts), start_date(), today - dt.timedelta(days=1))


def latest_view(filesystem: pafs.FileSystem, root: str) -> dict[str, list[dict[str, Any]]]:
    """Per stream, the documented latest-per-key query's rows (DuckDB over the files)."""
    view = {}
    for stream in STREAMS:
        table = dataset(filesystem, f"{root}/{stream}").to_table()
        keys = key_properties_of(table.schema)
        if keys is None:  # dataset schemas drop metadata when files disagree: read one
            first = dataset(filesystem, f"{root}/{stream}").files[0]
            keys = key_properties_of(pq.read_schema(first, filesystem=filesystem))
        assert keys, stream
        view[stream] = json_shaped(latest_rows(table, keys))
    return view


def assert_view_is_truth(filesystem: pafs.FileSystem, root: str, truth: dict[str, Any]) -> None:
    assert_matches_truth("x", latest_view(filesystem, root), truth)
