"""Binding rate limits: wall time against the fewest-windows minimum, and 429s.

One bucket whose budget binds (VendorX per token; VendorY one org), both vendors. For each
run the sandbox reports every fixed window that opened (`rate_windows` in its stats), so
the figures are the vendor's view:

- windows needed: ceil(requests in the bucket / limit), the fewest windows the work fits;
- minimum: (windows needed - 1) x window + the last window's calls at full speed (from
  its opening to its last request, as the sandbox saw it in the same run);
- wall: first request to last request as the sandbox saw them, and the tap's own wall
  (process start to exit: it adds the start-up, about a second, before the first request);
- idle: summed time between a window's close and the next one's opening.

Rows: the tap as shipped (window end learnt from the answers that open a window), the
limiter waiting for the rounded reset header only (before issue 13), and a client that
keeps no budget and simply waits out each 429 (the peer's way).

    python benchmarks/ratelimit.py            # 100 per 10 s, ~661 calls (about 7 minutes)
    python benchmarks/ratelimit.py --quick    # 20 per 2 s, ~61 calls (under 40 s)
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import run_tap, sandbox_process, table

TODAY = dt.datetime.now(dt.timezone.utc).date()
CONCURRENCY = 16
MODES = {
    "learnt": "window end learnt (as shipped)",
    "header": "rounded reset header only",
    "retry": "no budget, retry on 429",
}


@dataclass(frozen=True)
class Scenario:
    vendor: str
    limit: int
    window_s: float
    world: dict[str, Any]
    days: int
    bucket: str  # the sandbox's bucket whose budget binds


def scenarios(quick: bool) -> list[Scenario]:
    """VendorX: accounts x services metrics calls (one call per service, <= 31 days), plus
    the listings. VendorY: one org, apps x days usage calls (one call per app-day), plus
    the app listing; its org listing counts against another bucket."""
    limit, window_s = (20, 2.0) if quick else (100, 10.0)
    # X: 1 account page + A service pages + A x S metrics calls.
    x_accounts, x_services = (3, 19) if quick else (12, 54)
    # Y: 1 app page + apps x days usage calls (in the org's bucket).
    y_apps, y_days = (13, 5) if quick else (64, 11)
    common = {"seed": 13, "deleted_service_rate": 0, "rate_limit": limit,
              "rate_limit_window_s": window_s}
    return [
        Scenario("x", limit, window_s,
                 {**common, "accounts": x_accounts,
                  "services_per_account": (x_services, x_services), "history_days": 40},
                 20, "token"),
        Scenario("y", limit, window_s,
                 {**common, "accounts": 1, "services_per_account": (y_apps, y_apps),
                  "history_days": y_days + 30},
                 y_days, ""),  # the one org's bucket, found in the stats
    ]


def run(scenario: Scenario, mode: str) -> list[Any]:
    with sandbox_process(scenario.vendor, **scenario.world) as sandbox:
        config = {"api_url": sandbox.url, "max_concurrency": CONCURRENCY,
                  "start_date": (TODAY - dt.timedelta(days=scenario.days)).isoformat()}
        command = None if mode == "learnt" else [
            sys.executable, str(Path(__file__).resolve()), "--tap", scenario.vendor,
            "--mode", mode]
        result = run_tap(scenario.vendor, config, command=command)
        stats = sandbox.stats()
    assert result.returncode == 0, f"{scenario.vendor} {mode}: exit {result.returncode}"
    buckets = stats["rate_windows"]
    bucket = scenario.bucket or max(buckets, key=lambda name: len(buckets[name]))
    windows = buckets[bucket]
    requests = sum(window["requests"] for window in windows)
    refused = sum(window["refused"] for window in windows)
    needed = math.ceil((requests - refused) / scenario.limit)
    last = windows[-1]
    last_window_s = last["last_request_s"] - last["opened_s"]
    minimum = (needed - 1) * scenario.window_s + last_window_s
    span = last["last_request_s"] - windows[0]["opened_s"]
    idle = sum(max(0.0, later["opened_s"] - earlier["closes_s"])
               for earlier, later in itertools.pairwise(windows))
    return [scenario.vendor, MODES[mode], f"{scenario.limit}/{scenario.window_s:g}s",
            requests - refused, needed, len(windows), f"{minimum:.2f}", f"{span:.2f}",
            f"{result.seconds:.2f}", f"{span / minimum:.3f}", f"{result.seconds / minimum:.3f}",
            f"{idle:.2f}", stats["rate_limited"]]


def run_tap_in_mode(vendor: str, mode: str) -> None:
    """This file as a tap: the vendor's tap with the limiter of `mode` (see MODES)."""
    from typing_extensions import override  # noqa: PLC0415

    from singer_fanout.ratelimit import RateLimiter, RateLimitInfo, Ticket  # noqa: PLC0415
    from tap_vendorx.tap import TapVendorX  # noqa: PLC0415
    from tap_vendory.tap import TapVendorY  # noqa: PLC0415

    class RetryOn429(RateLimiter):
        """Keeps no budget: sends until refused, then waits as the 429 says."""

        @override
        def observe(self, scope: str, info: RateLimitInfo, ticket: Ticket | None = None) -> None:
            return None

    base = TapVendorX if vendor == "x" else TapVendorY

    class TapInMode(base):  # type: ignore[valid-type,misc]
        @cached_property
        @override
        def rate_limiter(self) -> RateLimiter:
            wait = self.run_settings.retry.max_rate_limit_wait_s
            if mode == "retry":
                return RetryOn429(max_wait_s=wait)
            return RateLimiter(max_wait_s=wait, learn_windows=False)

    TapInMode.cli()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 s windows, fewer calls")
    parser.add_argument("--tap", choices=["x", "y"], help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=list(MODES), help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.tap:
        sys.argv = [sys.argv[0], *rest]
        run_tap_in_mode(args.tap, args.mode)
        return
    print(f"# binding rate limits ({'quick' if args.quick else 'full'} sizes, {TODAY}, "
          f"max_concurrency {CONCURRENCY})")
    # Quick: the header-only row is left out to stay under 40 s.
    modes = ["learnt", "retry"] if args.quick else list(MODES)
    rows = [run(scenario, mode) for scenario in scenarios(args.quick) for mode in modes]
    table("Binding rate limit: wall against the fewest-windows minimum",
          ["tap", "client", "limit", "calls", "windows needed", "windows opened",
           "minimum s", "wall s (sandbox)", "wall s (tap)", "sandbox wall / minimum",
           "tap wall / minimum", "idle s", "429s"], rows)


if __name__ == "__main__":
    main()
