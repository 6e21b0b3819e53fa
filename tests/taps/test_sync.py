"""Full and incremental syncs against the sandbox, checked against its ground truth."""

from __future__ import annotations

import datetime as dt

from tests.finality_reads import expected_reads, last_days
from tests.tap_runner import run_tap
from tests.taps.conftest import BASE_TODAY, sandbox_config, tap_config
from tests.truth import assert_matches_truth, expected
from vendor_sandbox import run_sandbox


def test_full_run_equals_truth(vendor, sandbox, tmp_path):
    config = tap_config(vendor, sandbox.url)
    run = run_tap(vendor, config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    first = dt.date.fromisoformat(config["start_date"])
    truth = expected(sandbox_config(vendor), first, BASE_TODAY - dt.timedelta(days=1))
    assert truth["metrics"], "the sandbox served no metrics: the test would prove nothing"
    assert_matches_truth(vendor, run.records, truth)
    # Every key exactly once on a first run (no lookback re-emits yet).
    keys = [(r["account_id"], r["service_id"], r["date"]) for r in run.records["metrics"]]
    assert len(keys) == len(set(keys))
    # One bookmark per service partition: the last day synced (a deleted VendorX service's
    # last day; none for a service that had no day to sync).
    services = {(r["account_id"], r["service_id"]): r for r in run.records["services"]}
    assert run.bookmarks() == last_days(vendor, services.values(), first, config["end_date"])
    # SCHEMA before any RECORD of its stream.
    seen_schema: set[str] = set()
    for message in run.messages:
        if message["type"] == "SCHEMA":
            seen_schema.add(message["stream"])
        elif message["type"] == "RECORD":
            assert message["stream"] in seen_schema


def test_second_run_reads_what_is_not_final_and_reemits_revisions(vendor, tmp_path):
    with run_sandbox(sandbox_config(vendor, revision_rate=1.0)) as sandbox:
        first_run = run_tap(vendor, tap_config(vendor, sandbox.url), tmp_path)
        assert first_run.returncode == 0, first_run.stderr[-3000:]

        tomorrow = BASE_TODAY + dt.timedelta(days=1)
        sandbox.update(today=tomorrow)
        sandbox.reset_stats()
        config = tap_config(vendor, sandbox.url, today=tomorrow)
        second_run = run_tap(vendor, config, tmp_path, state=first_run.final_state)
        assert second_run.returncode == 0, second_run.stderr[-3000:]
        stats = sandbox.stats()

    start = dt.date.fromisoformat(config["start_date"])
    old_bookmark = BASE_TODAY - dt.timedelta(days=1)
    # The days not final at the first run and the new day: no fixed lookback.
    reads = expected_reads(sandbox_config(vendor, revision_rate=1.0), old_bookmark,
                           tomorrow - dt.timedelta(days=1), start)
    assert stats["metric_days_by_service"] == dict(reads)
    assert stats["metric_days_requested"] == sum(reads.values())

    # Days inside the revision window come again with their new values; the union of both
    # runs (latest per key) equals the truth as of the new day.
    combined = {
        stream: first_run.records.get(stream, []) + second_run.records.get(stream, [])
        for stream in ("accounts", "services", "metrics")
    }
    truth = expected(sandbox_config(vendor, revision_rate=1.0, today=tomorrow),
                     dt.date.fromisoformat(config["start_date"]), tomorrow - dt.timedelta(days=1))
    assert_matches_truth(vendor, combined, truth)
    before = {(r["service_id"], r["date"]): r for r in first_run.records["metrics"]}
    revised = [
        r for r in second_run.records["metrics"]
        if (r["service_id"], r["date"]) in before and r != before[(r["service_id"], r["date"])]
    ]
    assert revised, "no revised day was re-emitted"
