"""Coverage of a large lake: `target-parquet-coverage` vs the DuckDB query an analyst writes.

A synthetic VendorX-shaped lake as the loader lays it out (`<lake>/vendorx/metrics/
date=YYYY-MM-DD/<file>.parquet`, hive-partitioned), built as a year of daily runs: each run
writes yesterday and re-emits the `--lookback` days before it (not final until D+3), so a
day has several records. A few (service, day) pairs are dropped to make gaps. Both sides
must find the same missing days; the figures are wall-clock seconds on this machine.

    python benchmarks/coverage_lake.py [--services 2000] [--days 365] [--lookback 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from target_parquet_lake.coverage.cli import collect
from target_parquet_lake.coverage.model import MISSING
from target_parquet_lake.coverage.page import render

T = TypeVar("T")
FIRST_DAY = dt.date(2025, 1, 1)
GAP_RATE = 0.001
FINAL_AFTER_DAYS = 3


def build_lake(root: Path, services: int, days: int, lookback: int, seed: int = 7) -> int:
    """Write the lake; returns how many (service, day) pairs were dropped."""
    rng = random.Random(seed)
    accounts = [f"acc_{n // 20:04d}" for n in range(services)]
    service_ids = [f"svc_{n}" for n in range(services)]
    dropped = {(s, d) for s in range(services) for d in range(1, days - 1)
               if rng.random() < GAP_RATE}
    metrics = root / "vendorx" / "metrics"
    for run in range(days):  # run `run` syncs day `run` and re-emits the lookback before it
        for day in range(max(0, run - lookback), run + 1):
            keep = [s for s in range(services) if (s, day) not in dropped]
            date = FIRST_DAY + dt.timedelta(days=day)
            table = pa.table({
                "account_id": [accounts[s] for s in keep],
                "service_id": [service_ids[s] for s in keep],
                "requests": [1000 + s for s in keep],
                "is_final": [run - day >= FINAL_AFTER_DAYS] * len(keep),
            })
            folder = metrics / f"date={date}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, folder / f"metrics-{run:04d}_abcd1234-0-0.snappy.parquet")
    return len(dropped)


DUCKDB_GAPS = """
with days as (
    select account_id, service_id, cast("date" as date) as d
    from read_parquet('{glob}', hive_partitioning = true)
    group by all
), bounds as (
    select account_id, service_id, min(d) as f, max(d) as l from days group by all
), expected as (
    select account_id, service_id,
           cast(unnest(generate_series(f, l, interval 1 day)) as date) as d
    from bounds
)
select count(*) from expected anti join days using (account_id, service_id, d)
"""


def timed(label: str, func: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - started
    print(f"  {label:<44} {seconds:7.2f} s", flush=True)
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--lookback", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="coverage-bench-"))
    try:
        print(f"lake: {args.services} services x {args.days} days, lookback {args.lookback}")
        dropped, _ = timed("build the lake", lambda: build_lake(
            root, args.services, args.days, args.lookback))
        files = sum(1 for _ in root.rglob("*.parquet"))
        rows = pq.ParquetDataset(root / "vendorx" / "metrics").read(columns=["requests"]).num_rows
        print(f"  {files} files, {rows} rows, {dropped} (service, day) pairs dropped")

        vendors, ours = timed("target-parquet-coverage (collect)", lambda: collect(str(root)))
        glob = f"{root}/vendorx/metrics/**/*.parquet"
        def gap_query() -> Any:
            return duckdb.execute(DUCKDB_GAPS.format(glob=glob)).fetchall()[0][0]

        duck_missing, duck = timed("DuckDB gap query (baseline)", gap_query)
        page, _ = timed("render the HTML page", lambda: render(vendors, str(root)))
        path = root / "coverage.html"
        path.write_text(page)
        chromium = shutil.which("chromium")
        if chromium:
            timed("chromium --dump-dom (draw the heatmap)", lambda: subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                 f"--user-data-dir={root / 'profile'}", "--dump-dom", path.as_uri()],
                capture_output=True, check=True, timeout=600))
        ours_missing = vendors[0].days(MISSING)
        assert ours_missing == duck_missing == dropped, (ours_missing, duck_missing, dropped)
        print(f"  missing days found: {ours_missing} (both); page {len(page) / 1e6:.2f} MB")
        print(f"  ratio coverage / DuckDB: {ours / duck:.2f}x; "
              f"{rows / ours / 1e6:.2f} M rows/s read by coverage")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
