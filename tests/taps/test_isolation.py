"""One bad service never derails the run; the next run fills exactly the gap."""

from __future__ import annotations

import datetime as dt
import json

from tests.finality_reads import expected_reads, first_day_with_data
from tests.tap_runner import run_tap
from tests.taps.conftest import sandbox_config, tap_config
from tests.truth import assert_matches_truth, expected
from vendor_sandbox import run_sandbox, truth_records


def a_service_with_metrics(vendor: str) -> tuple[str, str]:
    for line in truth_records(sandbox_config(vendor)):
        if line["type"] == "metric":
            return line["account_id"], line["service_id"]
    raise AssertionError("no service with metrics in the sandbox")


def test_failed_service_is_isolated_and_retried_next_run(vendor, tmp_path):
    account_id, bad_service = a_service_with_metrics(vendor)
    summary_path = tmp_path / "summary.json"
    with run_sandbox(sandbox_config(vendor, fail_services=frozenset({bad_service}))) as sandbox:
        config = tap_config(vendor, sandbox.url, max_retries=1, summary_path=str(summary_path))
        first = run_tap(vendor, config, tmp_path)
        assert first.returncode == 1, first.stderr[-3000:]
        assert bad_service in first.stderr
        assert account_id in first.stderr

        # Nothing of the failed partition was emitted, its bookmark did not move ...
        assert all(r["service_id"] != bad_service for r in first.records["metrics"])
        assert (account_id, bad_service) not in first.bookmarks()
        # ... and every other partition completed.
        services = {(r["account_id"], r["service_id"]) for r in first.records["services"]}
        assert set(first.bookmarks()) == services - {(account_id, bad_service)}
        summary = json.loads(summary_path.read_text())
        assert summary["outcome"] == "partial_failure"
        failures = summary["streams"]["metrics"]["failures"]
        assert [f["context"] for f in failures] == [
            {"account_id": account_id, "service_id": bad_service}
        ]

        sandbox.update(fail_services=frozenset())
        sandbox.reset_stats()
        second = run_tap(vendor, config, tmp_path, state=first.final_state)
        assert second.returncode == 0, second.stderr[-3000:]
        stats = sandbox.stats()

    # The gap is filled: the failed service is read from start_date (from its creation when
    # the tap knows it), the others only re-read their days not final yet.
    start = dt.date.fromisoformat(config["start_date"])
    end = dt.date.fromisoformat(config["end_date"])
    reads = dict(stats["metric_days_by_service"])
    first_day = first_day_with_data(sandbox_config(vendor), bad_service, start)
    assert reads.pop(bad_service) == (end - first_day).days + 1
    others = expected_reads(sandbox_config(vendor), end, end, start)
    others.pop(bad_service, None)
    assert reads == dict(others)
    combined = {k: first.records.get(k, []) + second.records.get(k, [])
                for k in ("accounts", "services", "metrics")}
    assert_matches_truth(vendor, combined, expected(sandbox_config(vendor), start, end))


def test_failed_account_listing_is_isolated(vendor, tmp_path):
    account_id, _ = a_service_with_metrics(vendor)
    with run_sandbox(sandbox_config(vendor, fail_accounts=frozenset({account_id}))) as sandbox:
        config = tap_config(vendor, sandbox.url, max_retries=1)
        run = run_tap(vendor, config, tmp_path)
    assert run.returncode == 1
    start = dt.date.fromisoformat(config["start_date"])
    truth = expected(sandbox_config(vendor), start, dt.date.fromisoformat(config["end_date"]))
    services = {(r["account_id"], r["service_id"]) for r in run.records["services"]}
    metrics = {(r["account_id"], r["service_id"], r["date"]) for r in run.records["metrics"]}
    assert services == {key for key in truth["services"] if key[0] != account_id}
    assert metrics == {key for key in truth["metrics"] if key[0] != account_id}
    assert metrics, "the other accounts must still land"
