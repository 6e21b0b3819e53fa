"""The Prefect flow against shardrun's own Dask path, on the same run.

    python benchmarks/prefect_overhead.py [--days 10] [--shards 4] [--rounds 2]

Each round runs the same sharded sync twice on a fresh VendorY sandbox (its own process,
8 orgs, per-org budgets as in benchmarks/shards.py), one after the other:

- dask: `python -m shardrun run --executor dask` (one Dask task per shard, a LocalCluster);
- prefect: `python -m shardrun run --executor prefect` (a Prefect flow mapping one task per
  shard on prefect-dask's DaskTaskRunner, a LocalCluster of the same size), talking to a
  local Prefect server started once before the rounds (its start-up is measured apart:
  a long-lived deployment has it running already).

Measured per run: wall (the whole command: interpreter, imports, cluster, shards) and sync
(the slowest shard's own sync time, from its run summary). The overhead ratio is prefect
wall / dask wall of the same round; the sync times show the shards themselves did the same.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.shards import ORGS, run_shards, sandbox

ROOT = Path(__file__).resolve().parent.parent


def one_run(executor: str, shards: int, days: int) -> dict[str, Any]:
    today = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=2)
    with sandbox(days, today) as url, tempfile.TemporaryDirectory() as folder:
        wall, manifest = run_shards(url, Path(folder), today, days, shards, executor=executor)
    sync = max(entry["summary"]["duration_s"] for entry in manifest["shards"].values())
    return {"executor": executor, "wall": wall, "sync": sync}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from shardrun.prefect_flow import prefect_api  # noqa: PLC0415 - the optional extra

    rows = []
    with tempfile.TemporaryDirectory() as home:
        os.environ["PREFECT_HOME"] = home
        os.environ.pop("PREFECT_API_URL", None)
        started = time.perf_counter()
        with prefect_api():  # exports PREFECT_API_URL to the runs below
            server_start = time.perf_counter() - started
            for _ in range(args.rounds):
                dask = one_run("dask", args.shards, args.days)
                prefect = one_run("prefect", args.shards, args.days)
                rows.append((dask, prefect))
    print(f"command: python benchmarks/prefect_overhead.py --days {args.days} "
          f"--shards {args.shards} --rounds {args.rounds}")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}; VendorY "
          f"sandbox, {ORGS} orgs x 3 apps, {args.days} days")
    print(f"local Prefect server start (fresh SQLite, once): {server_start:.1f} s")
    print()
    print("| round | dask wall s | prefect wall s | overhead ratio | dask sync s "
          "| prefect sync s |")
    print("|---:|---:|---:|---:|---:|---:|")
    for number, (dask, prefect) in enumerate(rows, 1):
        print(f"| {number} | {dask['wall']:.1f} | {prefect['wall']:.1f} "
              f"| {prefect['wall'] / dask['wall']:.2f}x | {dask['sync']:.1f} "
              f"| {prefect['sync']:.1f} |")
    ratios = [prefect["wall"] / dask["wall"] for dask, prefect in rows]
    extra = [prefect["wall"] - dask["wall"] for dask, prefect in rows]
    print(f"\nmedian overhead ratio {statistics.median(ratios):.2f}x, "
          f"median extra {statistics.median(extra):.1f} s per run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
