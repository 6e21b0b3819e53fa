"""Backfill of a few services: request windows fetched concurrently vs one after another.

A first sync of 5 VendorY services x 365 days is 1,825 calls (one per app per day). With a
partition fetched by one worker, 5 requests are in flight of 16; with its windows spread over
the pool, all 16 are. Both runs go against the same sandbox process in this run
(`partition_concurrency: 1` is the old behaviour).

    python benchmarks/backfill.py            # 5 services x 365 days, 20 ms per call
    python benchmarks/backfill.py --quick    # 5 services x 120 days
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import run_tap, sandbox_process, startup_cpu_s, table

TODAY = dt.datetime.now(dt.timezone.utc).date()
CONCURRENCY = 16
NO_LIMIT = 1_000_000


def backfill(services: int, days: int, latency_ms: int) -> tuple[list[list[Any]], float]:
    world = {"seed": 7, "accounts": 1, "services_per_account": (services, services),
             "history_days": days + 5, "deleted_service_rate": 0, "full_history_rate": 1,
             "latency_ms": latency_ms, "rate_limit": NO_LIMIT}
    config = {"start_date": (TODAY - dt.timedelta(days=days)).isoformat(),
              "max_concurrency": CONCURRENCY}
    rows, seconds = [], {}
    # The tap's CPU per call leaves out its start-up (imports, settings, catalog): measured
    # on its own with `--discover`, it is the same for both runs.
    startup = startup_cpu_s("y", {"api_url": "http://127.0.0.1:9", **config})
    for label, extra in (("one window at a time (before)", {"partition_concurrency": 1}),
                         ("windows concurrently (after)", {})):
        # A fresh sandbox per run: its stats then time exactly this run's requests, from
        # the first to the last (the tap's start-up is not part of what is compared).
        with sandbox_process("y", **world) as sandbox:
            idle_cpu = sandbox.cpu_s()  # its own start-up, before any request
            result = run_tap("y", {"api_url": sandbox.url, **config, **extra})
            stats, sandbox_cpu = sandbox.stats(), sandbox.cpu_s() - idle_cpu
        assert result.returncode == 0, f"{label}: exit {result.returncode}"
        calls, span = stats["requests_total"], stats["request_span_s"]
        bound_s = calls * latency_ms / 1000 / CONCURRENCY
        seconds[label] = span
        rows.append([label, services, days, calls, result.records, f"{span:.1f}",
                     f"{result.seconds:.1f}", f"{bound_s:.1f}", f"{bound_s / span:.0%}",
                     f"{(result.cpu_s - startup) * 1000 / calls:.2f}",
                     f"{sandbox_cpu * 1000 / calls:.2f}"])
    old, new = seconds.values()
    rows.append(["speedup", "", "", "", "", f"{old / new:.1f}x", "", "", "", "", ""])
    return rows, startup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="120 days instead of 365")
    args = parser.parse_args()
    days = 120 if args.quick else 365
    print(f"# backfill benchmark ({'quick' if args.quick else 'full'}, {TODAY})")
    rows, startup = backfill(5, days, 20)
    table(f"VendorY backfill, 5 services x {days} days, 20 ms per call, concurrency "
          f"{CONCURRENCY}",
          ["partition", "services", "days", "calls", "records", "request span s",
           "tap wall s", "bound s", "of bound", "tap CPU ms/call", "sandbox CPU ms/call"],
          rows)
    print(f"\nCPU per call: each process's own user + system time; the tap's leaves out its "
          f"start-up ({startup:.2f} s, the CPU of `--discover`), the sandbox's its own.")


if __name__ == "__main__":
    main()
