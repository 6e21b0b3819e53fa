"""STATE at scale: a run's total STATE bytes against its final state, and memory per service.

Each size is synced twice per policy against one sandbox (VendorX, no latency, a rate limit
that makes the run last many state intervals): a first run from no state, then an
incremental run from the first run's final state (the state is full-size from its start).
The old policy (`state_redo_percent: 0`: a STATE every `state_interval_seconds`) and the
new one (the default) run in the same process tree, so the ratios compare like with like.

    python benchmarks/scale.py            # 10,000 and 100,000 services (about 9 minutes)
    python benchmarks/scale.py --quick    # 1,000 and 3,000 services (< 1 min)
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import TapResult, run_tap, sandbox_process, table

TODAY = dt.datetime.now(dt.timezone.utc).date()
DAYS = 3
SERVICES_PER_ACCOUNT = 500
POLICIES = {"old: every interval": 0, "new: default": None}


@dataclass(frozen=True)
class Size:
    services: int
    # Requests per second the sandbox allows and the STATE interval: the run lasts
    # services / rate seconds, at least 10 intervals.
    rate_per_s: int
    interval_s: float


FULL = (Size(10_000, 500, 0.5), Size(100_000, 1_000, 1.0))
QUICK = (Size(1_000, 300, 0.25), Size(3_000, 900, 0.25))


def run_size(size: Size) -> list[tuple[str, str, TapResult]]:
    accounts = size.services // SERVICES_PER_ACCOUNT
    world = {"seed": 13, "accounts": accounts,
             "services_per_account": (SERVICES_PER_ACCOUNT, SERVICES_PER_ACCOUNT),
             "history_days": DAYS + 5, "deleted_service_rate": 0, "latency_ms": 0,
             "rate_limit": size.rate_per_s, "rate_limit_window_s": 1}
    results = []
    with sandbox_process("x", **world) as sandbox, tempfile.TemporaryDirectory() as tmp:
        for policy, percent in POLICIES.items():
            config: dict[str, Any] = {
                "api_url": sandbox.url, "max_concurrency": 16,
                "start_date": (TODAY - dt.timedelta(days=DAYS)).isoformat(),
                "state_interval_seconds": size.interval_s,
            }
            if percent is not None:
                config["state_redo_percent"] = percent
            state = Path(tmp) / f"state-{percent}.json"
            runs = [("first", run_tap("x", config, state_out=state)),
                    ("incremental", run_tap("x", config, state_in=state))]
            for kind, result in runs:
                assert result.returncode == 0, f"{policy} {kind}: exit {result.returncode}"
                results.append((policy, kind, result))
    return results


def row(size: Size, policy: str, kind: str, result: TapResult) -> list[Any]:
    final = result.final_state_bytes
    return [f"{size.services:,}", policy, kind, f"{result.seconds:.0f}",
            f"{result.seconds / size.interval_s:.0f}", result.state_messages,
            f"{result.state_bytes / 1e6:.1f}", f"{final / 1e6:.2f}",
            f"{result.state_bytes / final:.1f}x", f"{result.peak_rss_mb:.0f}",
            f"{result.peak_rss_mb * 1024 / size.services:.2f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 and 3,000 services")
    sizes = QUICK if parser.parse_args().quick else FULL
    kinds = ("first", "incremental")
    rows, peaks = [], {}
    for size in sizes:
        for policy, kind, result in run_size(size):
            rows.append(row(size, policy, kind, result))
            peaks[(size.services, policy, kind)] = result.peak_rss_mb
    table(f"STATE bytes and memory, VendorX, {DAYS} days, no latency, rate-limited",
          ["services", "policy", "run", "wall s", "state intervals", "STATE msgs",
           "STATE MB", "final state MB", "total / final", "peak RSS MB", "RSS KB/service"],
          rows)
    small, large = sizes[0].services, sizes[-1].services
    marginal = []
    for policy in POLICIES:
        for kind in kinds:
            extra_mb = peaks[(large, policy, kind)] - peaks[(small, policy, kind)]
            marginal.append([policy, kind, f"{extra_mb * 1024 / (large - small):.2f}"])
    table(f"peak RSS per extra service, {small:,} -> {large:,} services",
          ["policy", "run", "KB per service"], marginal)


if __name__ == "__main__":
    main()
