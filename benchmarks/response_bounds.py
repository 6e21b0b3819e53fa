"""Peak RSS of a tap whose every metrics answer is an endless body, against a normal run.

An endless body (the sandbox's `endless_body` hostile mode: a chunked body that never ends)
on every service, with `max_concurrency` workers all reading one at once: the tap must stop
each body at `max_response_bytes`, so its peak RSS may rise over a normal run of the same
world by at most `max_response_bytes` x `max_concurrency`. One more run shows what the
deadline alone would allow: a cap far out of reach, and only `response_deadline` ending
each body.

    python benchmarks/response_bounds.py
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import TapResult, run_tap, sandbox_process, table
from vendor_sandbox import SandboxConfig, truth_records

TODAY = dt.datetime.now(dt.timezone.utc).date()
MIB = 1024 * 1024
CONCURRENCY = 8
WORLD: dict[str, Any] = {"seed": 9, "accounts": 4, "services_per_account": (6, 6),
                         "history_days": 10, "deleted_service_rate": 0,
                         "rate_limit": 1_000_000}
DAYS = 3


def services_with_metrics(vendor: str) -> list[str]:
    config = SandboxConfig(vendor=vendor, **WORLD)  # type: ignore[arg-type]
    return sorted({r["service_id"] for r in truth_records(config) if r["type"] == "metric"})


def tap_run(vendor: str, hostile: str | None, **settings: Any) -> TapResult:
    knobs = {**WORLD, **({"hostile_services": hostile} if hostile else {})}
    with sandbox_process(vendor, **knobs) as sandbox:
        config = {"api_url": sandbox.url, "max_concurrency": CONCURRENCY, "max_retries": 0,
                  "start_date": (TODAY - dt.timedelta(days=DAYS)).isoformat(), **settings}
        return run_tap(vendor, config)


def main() -> None:
    print(f"# Peak RSS under a hostile endless body ({TODAY}, max_concurrency {CONCURRENCY})")
    rows: list[list[Any]] = []
    for vendor in ("x", "y"):
        endless = ",".join(f"{s}=endless_body" for s in services_with_metrics(vendor))
        normal = tap_run(vendor, None)
        rows.append([vendor, "normal run", "-", "-", f"{normal.peak_rss_mb:.0f}", "-", "-",
                     normal.returncode])
        for cap_mib, deadline in ((16, None), (4, None), (1024, 3.0)):
            settings: dict[str, Any] = {"max_response_bytes": cap_mib * MIB}
            if deadline is not None:
                settings["response_deadline"] = deadline
            result = tap_run(vendor, endless, **settings)
            rise = result.peak_rss_mb - normal.peak_rss_mb
            bound = cap_mib * CONCURRENCY
            label = ("endless bodies" if deadline is None
                     else f"endless, cap out of reach, {deadline:g}s deadline")
            rows.append([vendor, label, cap_mib, f"{bound}", f"{result.peak_rss_mb:.0f}",
                         f"{rise:+.0f}", f"{rise / bound:.0%}", result.returncode])
    table("Peak RSS: endless bodies vs a normal run",
          ["tap", "run", "max_response_bytes MiB", "bound: cap x concurrency MiB",
           "peak RSS MiB", "rise MiB", "rise / bound", "exit"], rows)


if __name__ == "__main__":
    main()
