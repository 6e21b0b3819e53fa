"""VendorZ's asynchronous reports: lines of tap, reports in flight, wall against the bound.

Every figure comes from runs made by this script: the sandbox in its own process, each tap
run a real subprocess writing into a counting sink.

    python benchmarks/reports.py            # 200 projects, report latency 2 s
    python benchmarks/reports.py --quick    # 60 projects

- Lines: non-blank, non-comment lines of `tap_vendorz/` (the bolt-on took 463).
- Reports in flight: the sandbox's `reports_outstanding` gauge (created, not yet
  downloaded) at its peak, against `max_concurrency`: above it means no worker is held
  while a report is being prepared.
- Wall against the bound: a run can not beat the tap's start-up (a run over an empty
  world, measured here) plus the longer of: the moment the poll schedule first sees a report
  ready (polls at 1 s, then 2.5 s: a 2 s report is seen at 2.5 s), and its requests'
  latency spread over the workers (`requests x latency / max_concurrency`). Polling one
  report per worker would instead take `projects / max_concurrency` report latencies on
  top of start-up (printed as "one worker per wait").
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
import tokenize
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import run_tap, sandbox_process, table

ROOT = Path(__file__).resolve().parent.parent
TAP_DIR = ROOT / "packages" / "tap-vendorz" / "tap_vendorz"
TODAY = dt.datetime.now(dt.timezone.utc).date()
REPORT_DELAY_S = 2.0
LATENCY_MS = 20
POLL_S = 1.0  # first poll after 1 s, the next 1.5 s later: a 2 s report is seen at 2.5 s
SEEN_READY_S = 2.5
NO_LIMIT = 1_000_000


def code_lines(path: Path) -> int:
    """Lines holding code: not blank, not only a comment or a docstring."""
    text = path.read_text()
    lines: set[int] = set()
    previous = tokenize.INDENT
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                          tokenize.DEDENT, tokenize.ENCODING, tokenize.ENDMARKER):
            continue
        is_docstring = token.type == tokenize.STRING and previous in (
            tokenize.INDENT, tokenize.NEWLINE, tokenize.DEDENT)
        previous = token.type
        if not is_docstring:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines)


def line_counts() -> list[list[Any]]:
    counts = [(path.name, len(path.read_text().splitlines()), code_lines(path))
              for path in sorted(TAP_DIR.glob("*.py"))]
    total = ("**total**", sum(c[1] for c in counts), sum(c[2] for c in counts))
    return [list(row) for row in [*counts, total]]


def report_run(projects: int, concurrency: int, startup_s: float = 0.0) -> list[Any]:
    accounts = projects // 10
    world = {"seed": 3, "accounts": accounts, "services_per_account": (10, 10),
             "history_days": 30, "deleted_service_rate": 0, "latency_ms": LATENCY_MS,
             "rate_limit": NO_LIMIT, "report_delay_s": REPORT_DELAY_S,
             "client_id": "bench-client"}
    config = {"start_date": (TODAY - dt.timedelta(days=10)).isoformat(),
              "max_concurrency": concurrency, "client_id": "bench-client",
              "report_poll_seconds": POLL_S, "requests_per_second": NO_LIMIT}
    with sandbox_process("z", **world) as sandbox:
        result = run_tap("z", {"api_url": sandbox.url, **config})
        stats = sandbox.stats()
    assert result.returncode == 0, "the tap run failed"
    if not projects:
        return [0, concurrency, stats["requests_total"], 0, f"{result.seconds:.1f}"]
    requests = stats["requests_total"]
    in_flight = stats["gauges"]["reports_outstanding"]["max"]
    bound = startup_s + max(SEEN_READY_S, requests * LATENCY_MS / 1000 / concurrency)
    one_worker_per_wait = startup_s + (projects / concurrency) * REPORT_DELAY_S
    return [projects, concurrency, requests, in_flight, f"{result.seconds:.1f}",
            f"{bound:.1f}", f"{result.seconds / bound:.2f}", f"{one_worker_per_wait:.0f}"]


def rate_run(projects: int, per_second: float) -> list[Any]:
    """The contract's own budget (a token bucket of 20 per second, no budget headers)."""
    world = {"seed": 3, "accounts": projects // 10, "services_per_account": (10, 10),
             "history_days": 30, "deleted_service_rate": 0, "report_delay_s": 0.5,
             "client_id": "bench-client"}
    config = {"start_date": (TODAY - dt.timedelta(days=10)).isoformat(),
              "max_concurrency": 16, "client_id": "bench-client",
              "report_poll_seconds": 0.5, "requests_per_second": per_second}
    with sandbox_process("z", **world) as sandbox:
        result = run_tap("z", {"api_url": sandbox.url, **config})
        stats = sandbox.stats()
    assert result.returncode == 0, "the tap run failed"
    label = "none (no pacing)" if per_second >= NO_LIMIT else f"{per_second:g}/s (published)"
    return [label, stats["requests_total"], stats["rate_limited"], stats["early_retries"],
            f"{result.seconds:.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    projects = 60 if args.quick else 200
    table("Lines in tap_vendorz/ (the bolt-on took 463)", ["file", "lines", "code lines"],
          line_counts())
    empty = report_run(0, 2)
    startup = float(empty[4])
    print(f"\nstart-up (a run over an empty world): {startup:.1f} s")
    rows = [report_run(projects, concurrency, startup) for concurrency in (2, 8, 16)]
    table(f"Reports of {projects} projects, report latency {REPORT_DELAY_S:g} s, request "
          f"latency {LATENCY_MS} ms",
          ["projects", "max_concurrency", "requests", "reports in flight (peak)", "wall s",
           "bound s", "wall / bound", "one worker per wait s"], rows)
    rows = [rate_run(projects // 2, per_second) for per_second in (NO_LIMIT, 20)]
    table(f"{projects // 2} projects against VendorZ's own budget (20 requests/s, 429 with an "
          "HTTP-date Retry-After, no budget headers)",
          ["client-side rate", "requests", "429s", "early retries", "wall s"], rows)


if __name__ == "__main__":
    main()
