"""Shards against a binding per-org rate limit: VendorY, 8 orgs, 60 requests / 10 s each.

    python benchmarks/shards.py [--days 60] [--shards 1 4] [--max-concurrency 16]

For each shard count, a fresh sandbox (`python -m vendor_sandbox serve`, its own process)
and `python -m shardrun run --shards N --workers N` on a Dask LocalCluster of N worker
processes, each shard piping tap-vendory into target-parquet. Measured:

- wall: the whole runner, including the LocalCluster's start and every process start-up;
- sync: the slowest shard's own sync time (its run summary's duration);
- requests/s: the sandbox's request count over each;
- of budget: requests/s over sync against the sum of the per-org budgets (8 x 60 / 10 s),
  the most any client can get.

Prints a Markdown table (see benchmarks/SHARDS.md for a recorded run).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-shards-key"
ORGS = 8
RATE_LIMIT = 60
WINDOW_S = 10.0
BUDGET_PER_S = ORGS * RATE_LIMIT / WINDOW_S


@contextlib.contextmanager
def sandbox(days: int, today: dt.date) -> Iterator[str]:
    command = [
        sys.executable, "-m", "vendor_sandbox", "serve", "--vendor", "y", "--port", "0",
        "--seed", "7", "--accounts", str(ORGS), "--services-per-account", "3",
        "--history-days", str(days + 5), "--today", today.isoformat(),
        "--world-date", today.isoformat(), "--deleted-service-rate", "0",
        "--rate-limit", str(RATE_LIMIT), "--rate-limit-window-s", str(WINDOW_S),
        "--token", KEY, "--log-level", "warning",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/_sandbox/stats") as answer:  # noqa: S310 - loopback
        result: dict[str, Any] = json.load(answer)
        return result


def run_shards(
    url: str, work: Path, today: dt.date, days: int, shards: int, *,
    executor: str = "dask", concurrency: int = 16,
) -> tuple[float, dict[str, Any]]:
    """`python -m shardrun run` of N shards syncing `days` days: (wall seconds, manifest)."""
    (work / "tap.json").write_text(json.dumps({
        "api_url": url, "api_key": KEY, "max_concurrency": concurrency,
        "start_date": (today - dt.timedelta(days=days)).isoformat(),
        "end_date": (today - dt.timedelta(days=1)).isoformat(),
    }))
    (work / "target.json").write_text(json.dumps({"destination_path": str(work / "out")}))
    command = [
        sys.executable, "-m", "shardrun", "run", "--executor", executor,
        "--shards", str(shards), "--workers", str(shards), "--work-dir", str(work / "work"),
        "--tap", "tap-vendory", "--tap-config", str(work / "tap.json"),
        "--target", "target-parquet", "--target-config", str(work / "target.json"),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{shards} shard(s) failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    return wall, json.loads((work / "work" / "manifest.json").read_text())


def scenario(shards: int, days: int, concurrency: int) -> dict[str, Any]:
    today = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=2)
    with sandbox(days, today) as url, tempfile.TemporaryDirectory() as folder:
        wall, manifest = run_shards(url, Path(folder), today, days, shards,
                                    concurrency=concurrency)
        served = stats(url)
    sync = max(entry["summary"]["duration_s"] for entry in manifest["shards"].values())
    records = sum(stream["records"] for entry in manifest["shards"].values()
                  for stream in entry["summary"]["streams"].values())
    requests = served["requests_total"]
    return {
        "shards": shards, "requests": requests, "rate_limited": served["rate_limited"],
        "records": records, "wall": wall, "sync": sync, "per_s_wall": requests / wall,
        "per_s_sync": requests / sync, "of_budget": requests / sync / BUDGET_PER_S,
    }


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| shards | requests | 429s | records | wall s | sync s | req/s (wall) "
        "| req/s (sync) | of budget |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['shards']} | {r['requests']:,} | {r['rate_limited']} | {r['records']:,} "
        f"| {r['wall']:.1f} | {r['sync']:.1f} | {r['per_s_wall']:.1f} | {r['per_s_sync']:.1f} "
        f"| {r['of_budget']:.0%} |"
        for r in rows
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60, help="days synced per app")
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--max-concurrency", type=int, default=16,
                        help="each tap's max_concurrency (the tap's default: 16)")
    args = parser.parse_args()
    rows = [scenario(count, args.days, args.max_concurrency) for count in args.shards]
    print(f"command: python benchmarks/shards.py --days {args.days} --shards "
          f"{' '.join(map(str, args.shards))} --max-concurrency {args.max_concurrency}")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}; VendorY "
          f"sandbox, {ORGS} orgs x 3 apps, {RATE_LIMIT} requests / {WINDOW_S:.0f} s per org "
          f"(budget {BUDGET_PER_S:.0f} requests/s in all)")
    print()
    for line in table(rows):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
