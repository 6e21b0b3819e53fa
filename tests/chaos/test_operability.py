"""What an operator sees: progress lines at a steady interval, and a run summary (log line
and JSON) whose every number matches what the sandbox counted and what was emitted."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from tests.chaos.checks import metric_keys_by_service, truth_of
from tests.chaos.configs import chaos_config
from tests.chaos.throttle import ThrottleBurst
from tests.tap_runner import TapRun, run_tap
from tests.taps.conftest import sandbox_config
from vendor_sandbox import run_sandbox

PROGRESS = re.compile(
    r"progress: (?P<done>\d+)/(?P<known>\d+) partitions done \((?P<failed>\d+) failed\), "
    r"(?P<requests>\d+) requests, (?P<retries>\d+) retries, (?P<rate_limited>\d+) "
    r"rate-limited, (?P<records>\d+) records, (?P<elapsed>\d+)s elapsed"
    r"(?:, ETA (?P<eta>\d+)s \(partitions known so far\))?$"
)
SUMMARY_LINE = re.compile(
    r"run summary: (?P<outcome>\w+) in (?P<duration>[\d.]+)s; (?P<streams>.*); "
    r"(?P<requests>\d+) requests, (?P<retries>\d+) retries, (?P<rate_limited>\d+) "
    r"rate-limited$"
)
INTERVAL_S = 0.25
# Stretch the runs to a couple of seconds, so that there is progress to report.
LATENCY_MS = {"x": 100.0, "y": 10.0}
MAX_RETRIES = 3
CONCURRENCY = 2


@dataclass
class ObservedRun:
    vendor: str
    run: TapRun
    summary: dict[str, Any]
    stats: dict[str, Any]
    failed: tuple[str, str]
    truth: dict[str, Any]

    def lines(self, pattern: re.Pattern[str]) -> list[dict[str, str]]:
        found = [pattern.search(line) for line in self.run.stderr.splitlines()]
        return [match.groupdict() for match in found if match]


@pytest.fixture(scope="module", params=["x", "y"])
def observed(request: pytest.FixtureRequest, tmp_path_factory) -> ObservedRun:
    vendor = str(request.param)
    tmp_path = tmp_path_factory.mktemp(f"operability-{vendor}")
    probe = truth_of(sandbox_config(vendor), chaos_config(vendor, "http://unused"))
    failed = sorted(metric_keys_by_service(probe))[0]
    knobs = {"latency_ms": LATENCY_MS[vendor], "error_5xx_rate": 0.05,
             "fail_services": {failed[1]}, "rate_limit": 1000, "rate_limit_window_s": 1.0}
    summary_path = tmp_path / "summary.json"
    with run_sandbox(sandbox_config(vendor, **knobs)) as sandbox:
        config = chaos_config(vendor, sandbox.url, max_concurrency=CONCURRENCY,
                              max_retries=MAX_RETRIES,
                              progress_interval_seconds=INTERVAL_S,
                              summary_path=str(summary_path))
        with ThrottleBurst(sandbox, after_requests=6, cut_to=CONCURRENCY).running() as burst:
            run = run_tap(vendor, config, tmp_path)
        stats = sandbox.stats()
    assert burst.fired, "the run ended before the 429 burst"
    return ObservedRun(vendor, run, json.loads(summary_path.read_text()), stats, failed,
                       probe)


def test_progress_lines_come_at_a_steady_interval(observed):
    lines = observed.lines(PROGRESS)
    duration = observed.summary["duration_s"]
    assert len(lines) >= 3, observed.run.stderr[-3000:]
    # Not more often than the interval, and not much less often (the engine looks at least
    # every half second), judged by the tap's own clock.
    assert len(lines) <= duration / INTERVAL_S + 1
    assert len(lines) >= duration / (INTERVAL_S + 0.5) - 2


def test_progress_lines_carry_counts_that_only_grow(observed):
    lines = [{k: int(v) for k, v in line.items() if v is not None}
             for line in observed.lines(PROGRESS)]
    for earlier, later in itertools.pairwise(lines):
        for count in ("done", "known", "requests", "retries", "records", "elapsed"):
            assert later[count] >= earlier[count], (count, earlier, later)
    assert all(line["done"] <= line["known"] for line in lines)
    assert any("eta" in line for line in lines), "no progress line estimated the time left"
    final = observed.summary
    last = lines[-1]
    assert last["requests"] <= final["requests"]
    assert last["records"] <= sum(s["records"] for s in final["streams"].values())


def test_the_summary_counts_what_was_emitted(observed):
    summary = observed.summary
    assert observed.run.returncode == 1
    assert summary["tap"] == f"tap-vendor{observed.vendor}"
    assert summary["outcome"] == "partial_failure"
    assert summary["fatal_error"] is None
    for stream in ("accounts", "services", "metrics"):
        assert summary["streams"][stream]["records"] == len(observed.run.records[stream])
    accounts = len(observed.truth["accounts"])
    services = len(observed.truth["services"])
    assert [summary["streams"][s]["partitions_ok"] for s in ("accounts", "services", "metrics")
            ] == [1, accounts, services - 1]
    assert summary["duration_s"] > 0


def test_the_summary_names_each_failed_partition(observed):
    account, service = observed.failed
    (failure,) = observed.summary["streams"]["metrics"]["failures"]
    assert failure["context"] == {"account_id": account, "service_id": service}
    assert failure["error"] == "PartitionError"
    assert service in failure["message"]
    assert observed.summary["streams"]["metrics"]["partitions_failed"] == 1
    assert f"failed partition: stream=metrics account_id={account} service_id={service}" \
        in observed.run.stderr


def test_the_summary_requests_retries_and_429s_match_the_sandbox(observed):
    summary, stats = observed.summary, observed.stats
    assert summary["requests"] == stats["requests_total"]
    assert summary["rate_limited"] == stats["rate_limited"]
    assert summary["rate_limited"] > 0
    # Each injected 5xx cost one retry; the always-failing request was tried
    # MAX_RETRIES + 1 times, so it cost MAX_RETRIES retries.
    faults = stats["faults"]
    assert faults["fail_service"] == MAX_RETRIES + 1
    assert summary["retries"] == faults["error_5xx"] + MAX_RETRIES


def test_the_summary_log_line_says_the_same_as_the_json(observed):
    (line,) = observed.lines(SUMMARY_LINE)
    summary = observed.summary
    assert line["outcome"] == summary["outcome"]
    assert float(line["duration"]) == pytest.approx(summary["duration_s"], abs=0.06)
    for count in ("requests", "retries", "rate_limited"):
        assert int(line[count]) == summary[count]
    for name, stream in summary["streams"].items():
        assert (f"{name}: {stream['records']} records, {stream['partitions_ok']} ok, "
                f"{stream['partitions_failed']} failed") in line["streams"]
