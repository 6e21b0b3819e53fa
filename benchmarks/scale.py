"""STATE at scale: total STATE bytes of a run against its final state, and memory per service.

Every STATE message carries the whole state. Written every `state_interval_seconds`, a long
run's STATE bytes grow with its length times the state's size; with `state_checkpoint_share`
(default 0.125) a STATE also waits for that share of the partitions to move. Both runs go
against the same world, with intervals short enough that each run spans many of them (the
ratio depends on how many intervals a run lasts, not on their length).

    python benchmarks/scale.py                 # 10,000 and 100,000 services
    python benchmarks/scale.py --quick         # 2,000 and 10,000 services
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import run_tap, sandbox_process, table

TODAY = dt.datetime.now(dt.timezone.utc).date()
NO_LIMIT = 1_000_000


def scale(services: int, runs: dict[str, dict[str, Any]]) -> list[list[Any]]:
    per_account = 100 if services <= 20_000 else 500
    world = {"seed": 2, "accounts": services // per_account,
             "services_per_account": (per_account, per_account), "history_days": 5,
             "deleted_service_rate": 0, "rate_limit": NO_LIMIT}
    rows = []
    with sandbox_process("x", **world) as sandbox:
        for label, extra in runs.items():
            start = (TODAY - dt.timedelta(days=3)).isoformat()
            config = {"api_url": sandbox.url, "start_date": start, "max_concurrency": 16,
                      **extra}
            result = run_tap("x", config)
            assert result.returncode == 0, f"{label}: exit {result.returncode}"
            intervals = result.seconds / float(extra.get("state_interval_seconds", 10))
            rows.append([services, label, f"{result.seconds:.0f}", f"{intervals:.0f}",
                         result.state_messages, f"{result.state_bytes / 1e6:.1f}",
                         f"{result.final_state_bytes / 1e6:.2f}",
                         f"{result.state_bytes / max(result.final_state_bytes, 1):.1f}x",
                         f"{result.peak_rss_mb:.0f}",
                         f"{result.peak_rss_mb * 1024 * 1024 / services / 1024:.2f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2,000 and 10,000 services")
    args = parser.parse_args()
    sizes = (2_000, 10_000) if args.quick else (10_000, 100_000)
    print(f"# STATE at scale ({'quick' if args.quick else 'full'}, {TODAY})")
    rows: list[list[Any]] = []
    for services in sizes:
        # An interval that makes each run span dozens of them on this machine.
        interval = 0.2 if services <= 10_000 else 1.0
        rows += scale(services, {
            "every interval (share 0, before)": {"state_interval_seconds": interval,
                                                 "state_checkpoint_share": 0},
            "share 0.125 (default)": {"state_interval_seconds": interval},
        })
    table("VendorX, 3 days per service, no latency",
          ["services", "STATE written", "seconds", "intervals", "STATE messages", "STATE MB",
           "final state MB", "total / final", "peak RSS MB", "RSS KB/service"], rows)


if __name__ == "__main__":
    main()
