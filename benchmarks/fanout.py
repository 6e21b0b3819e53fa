"""The fan-out benchmark: concurrency, partition scaling, record path, memory.

Binding rate limits have their own script, `benchmarks/ratelimit.py`.

Every figure is a ratio between runs made by this script, in this process tree: the sandbox
runs in its own process, each tap run is a real subprocess writing into a counting sink.

    python benchmarks/fanout.py            # full sizes (about 15 minutes)
    python benchmarks/fanout.py --quick    # smaller sizes, no slow baselines (under a minute)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import record_path
from benchmarks.harness import TapResult, run_tap, sandbox_process, startup_cpu_s, table

TODAY = dt.datetime.now(dt.timezone.utc).date()
DEFAULT_CONCURRENCY = 16
NO_LIMIT = 1_000_000


def start_date(days: int) -> str:
    return (TODAY - dt.timedelta(days=days)).isoformat()


@contextlib.contextmanager
def code_from(checkout: str | None) -> Iterator[str]:
    """Taps, kit and sandbox imported from another checkout (its packages first on
    PYTHONPATH, which the tap and sandbox subprocesses inherit), or from this one."""
    if checkout is None:
        yield "this checkout"
        return
    packages = Path(checkout).resolve() / "packages"
    paths = [str(packages / name) for name in ("singer-fanout", "tap-vendorx", "tap-vendory",
                                               "vendor-sandbox")]
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([*paths, *([previous] if previous else [])])
    try:
        yield f"before ({checkout})"
    finally:
        if previous is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = previous


def fanout_under_latency(vendor: str, services: int, days: int, latency_ms: int, *,
                         with_serial: bool = True) -> list[Any]:
    """Concurrency 1 vs the default on the same world; calls/s against the bound, and the
    CPU each process spends per call (the tap's own, the sandbox's, measured apart)."""
    accounts = services // 10
    world = {"seed": 3, "accounts": accounts, "services_per_account": (10, 10),
             "history_days": days + 5, "deleted_service_rate": 0, "latency_ms": latency_ms,
             "rate_limit": NO_LIMIT}
    runs: dict[int, tuple[TapResult, dict[str, Any], float]] = {}
    for concurrency in (1, DEFAULT_CONCURRENCY) if with_serial else (DEFAULT_CONCURRENCY,):
        with sandbox_process(vendor, **world) as sandbox:
            config = {"api_url": sandbox.url, "start_date": start_date(days),
                      "max_concurrency": concurrency}
            idle_cpu = sandbox.cpu_s()  # its own start-up, before any request
            result = run_tap(vendor, config)
            runs[concurrency] = (result, sandbox.stats(), sandbox.cpu_s() - idle_cpu)
        assert result.returncode == 0, f"{vendor} c={concurrency}: exit {result.returncode}"
    fast, fast_stats, sandbox_cpu = runs[DEFAULT_CONCURRENCY]
    startup = startup_cpu_s(vendor, {"api_url": "http://127.0.0.1:9",
                                     "start_date": start_date(days)})
    calls = fast_stats["requests_total"]
    tap_cpu = fast.cpu_s - startup  # the run's own work, without the fixed start-up
    rate = calls / fast_stats["request_span_s"]
    bound = DEFAULT_CONCURRENCY / (latency_ms / 1000)
    serial = ["-", "-"]
    if with_serial:
        slow = runs[1][0]
        assert slow.records == fast.records, "both runs must emit the same records"
        serial = [f"{slow.seconds:.1f}", f"{slow.seconds / fast.seconds:.1f}x"]
    return [vendor, services, days, calls, fast.records, serial[0], f"{fast.seconds:.1f}",
            serial[1], f"{rate:.0f}", f"{bound:.0f}", f"{rate / bound:.0%}",
            f"{tap_cpu * 1000 / calls:.2f}", f"{tap_cpu * 1e6 / fast.records:.1f}",
            f"{startup:.2f}", f"{sandbox_cpu * 1000 / calls:.2f}"]


def partition_scaling(vendor: str, small: int, large: int, *,
                      baseline_at_large: bool = True) -> tuple[list[list[Any]], list[Any]]:
    """Per-partition time and STATE bytes at two sizes, kit vs plain singer-sdk."""
    rows, rss = [], []
    for services in (small, large):
        world = {"seed": 7, "accounts": services // 50, "services_per_account": (50, 50),
                 "history_days": 10, "deleted_service_rate": 0, "rate_limit": NO_LIMIT}
        variants = [("singer_fanout", False)]
        if services == small or baseline_at_large:
            variants.append(("plain singer-sdk", True))
        results = {}
        for label, baseline in variants:
            with sandbox_process(vendor, **world) as sandbox:
                results[label] = run_tap(vendor, {"api_url": sandbox.url,
                                                  "start_date": start_date(1)},
                                         baseline=baseline)
        for label, result in results.items():
            rows.append([vendor, services, label, f"{result.seconds:.1f}",
                         f"{result.seconds / services * 1000:.2f}", result.state_messages,
                         f"{result.state_bytes / 1e6:.2f}"])
        rss.append(results["singer_fanout"].peak_rss_mb)
    memory = [vendor, f"{rss[0]:.0f}", f"{rss[1]:.0f}", f"{rss[1] / rss[0] - 1:+.0%}"]
    return rows, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes, no concurrency-1 runs, no slow baselines")
    parser.add_argument("--before", metavar="CHECKOUT",
                        help="also run the fan-out scenario with the taps, kit and sandbox of "
                        "another checkout (e.g. `git worktree add /tmp/before <commit>`)")
    args = parser.parse_args()
    quick = args.quick
    print(f"# singer_fanout fan-out benchmark ({'quick' if quick else 'full'} sizes, {TODAY})")

    services = 300 if quick else 1000
    rows = []
    for checkout in ([args.before] if args.before else []) + [None]:
        with code_from(checkout) as code:
            # --quick leaves out the concurrency-1 runs (the speedup): they take minutes.
            rows += [[code, *fanout_under_latency("x", services, 90, 20, with_serial=not quick)],
                     # VendorY is one call per service-day: 90 days x 1,000 services is 90,000
                     # calls, an hour at concurrency 1, so it runs on fewer days.
                     [code, *fanout_under_latency("y", services, 5 if quick else 10, 20,
                                                  with_serial=not quick)]]
    table(
        "Fan-out under latency (20 ms per call, rate limit off)",
        ["code", "tap", "services", "days", "calls", "records", "c=1 s",
         f"c={DEFAULT_CONCURRENCY} s", "speedup", "calls/s", "bound calls/s", "of bound",
         "tap CPU ms/request", "tap CPU µs/record", "tap start-up CPU s",
         "sandbox CPU ms/request"],
        rows,
    )
    print("\nCPU is each process's own user + system time; the tap's leaves out its start-up "
          "(the CPU of `--discover` with the same config), the sandbox's its own start-up.")
    small, large = (200, 2000) if quick else (500, 5000)
    scaling_rows: list[list[Any]] = []
    memory_rows: list[list[Any]] = []
    for vendor in ("x", "y"):
        # Plain singer-sdk at 2,000 partitions writes ~600 MB of STATE in minutes: --quick
        # runs it at the small size only.
        rows, memory = partition_scaling(vendor, small, large, baseline_at_large=not quick)
        scaling_rows += rows
        memory_rows.append(memory)
    table(
        "Partition scaling (no latency, one metrics call per service)",
        ["tap", "services", "orchestration", "seconds", "ms/partition", "STATE messages",
         "STATE MB"],
        scaling_rows,
    )
    table("Memory (singer_fanout, peak RSS)",
          ["tap", f"MB at {small}", f"MB at {large}", "growth for 10x services"], memory_rows)
    count = 50_000 if quick else 200_000
    results = {variant: record_path.measure(variant, count) for variant in ("sdk", "kit")}
    table(
        f"Record path ({count:,} metrics records, no HTTP)",
        ["orchestration", "seconds", "records/s"],
        [[label, f"{results[v][0]:.2f}", f"{results[v][1] / results[v][0]:,.0f}"]
         for v, label in (("sdk", "plain singer-sdk"), ("kit", "singer_fanout"))],
    )
    print(f"\nrecord path speedup: {results['sdk'][0] / results['kit'][0]:.2f}x")


if __name__ == "__main__":
    main()
