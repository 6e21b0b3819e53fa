"""Services and a whole account that always fail: the rest lands, the summary and exit code
say what failed, and once the faults clear the next run fills exactly the gap."""

from __future__ import annotations

import json

from tests.chaos.checks import (
    assert_each_key_once,
    assert_lands,
    days_read_after,
    metric_keys_by_service,
    truth_of,
    window,
    without,
)
from tests.chaos.configs import chaos_config
from tests.finality_reads import first_day_with_data, last_days
from tests.tap_runner import run_tap
from tests.taps.conftest import sandbox_config
from vendor_sandbox import run_sandbox


def pick_victims(truth) -> tuple[str, set[tuple[str, str]], set[tuple[str, str]]]:
    """One account to fail whole, and one service with metrics in each other account."""
    by_service = metric_keys_by_service(truth)
    accounts = sorted({account for (account,) in truth["accounts"]})
    failed_account = accounts[0]
    failed_services = set()
    for account in accounts[1:]:
        with_metrics = sorted(key for key in by_service if key[0] == account)
        failed_services.add(with_metrics[0])
    hidden = {key for key in truth["services"] if key[0] == failed_account}
    assert failed_services, "the world is too small to prove isolation"
    assert hidden, "the failed account has no services: its failure would hide nothing"
    return failed_account, failed_services, hidden


def test_permanent_failures_are_isolated_reported_and_filled_next_run(vendor, tmp_path):
    knobs = {"accounts": 3, "services_per_account": (2, 3)}
    plain = sandbox_config(vendor, **knobs)
    probe = truth_of(plain, chaos_config(vendor, "http://unused"))
    failed_account, failed_services, hidden_services = pick_victims(probe)
    summary_path = tmp_path / "summary.json"
    with run_sandbox(sandbox_config(
        vendor, **knobs, fail_accounts={failed_account},
        fail_services={service for _, service in failed_services},
    )) as sandbox:
        config = chaos_config(vendor, sandbox.url, max_retries=1, summary_path=str(summary_path))
        truth = truth_of(plain, config)
        first = run_tap(vendor, config, tmp_path)
        summary = json.loads(summary_path.read_text())

        sandbox.update(fail_accounts=frozenset(), fail_services=frozenset())
        sandbox.reset_stats()
        second = run_tap(vendor, config, tmp_path, state=first.final_state)
        stats = sandbox.stats()

    # Everything else landed, and nothing of the failed partitions did.
    assert first.returncode == 1, first.stderr[-3000:]
    assert_each_key_once(first)
    lost = without(truth, accounts={failed_account},
                   services={service for _, service in failed_services})
    assert_lands(vendor, [first], lost)
    # Their bookmarks did not move; every other service is bookmarked to its last day (the
    # window's end for a live one), and not at all without a day to sync.
    start, end = window(config)
    others = set(truth["services"]) - failed_services - hidden_services
    records = {(r["account_id"], r["service_id"]): r for r in first.records["services"]}
    assert first.bookmarks() == last_days(
        vendor, [records[key] for key in others], start, config["end_date"])

    # The summary names each failure: stream, ids and error class.
    assert summary["outcome"] == "partial_failure"
    metrics_failures = summary["streams"]["metrics"]["failures"]
    services_failures = summary["streams"]["services"]["failures"]
    assert sorted((f["context"]["account_id"], f["context"]["service_id"])
                  for f in metrics_failures) == sorted(failed_services)
    assert [f["context"] for f in services_failures] == [{"account_id": failed_account}]
    for failure in metrics_failures + services_failures:
        assert failure["error"] == "PartitionError"
        assert "HTTP 500" in failure["message"]
        assert f"Vendor{vendor.upper()}" in failure["message"]
        for value in failure["context"].values():
            assert value in failure["message"]
            assert value in first.stderr
    for failure in metrics_failures:
        # The first day that failed: start_date, or the day the service was created.
        first_day = first_day_with_data(plain, failure["context"]["service_id"], start)
        assert first_day.isoformat() in failure["message"]
    assert summary["streams"]["metrics"]["partitions_failed"] == len(failed_services)
    assert summary["streams"]["services"]["partitions_failed"] == 1

    # Faults cleared: the next run reads the failed services and the failed account's
    # services from start_date, and every other service only its days not final yet.
    assert second.returncode == 0, second.stderr[-3000:]
    gap = {service for _, service in failed_services | hidden_services}
    bookmarks = first.bookmarks()
    assert not gap & {service for _, service in bookmarks}
    reads = {service: days_read_after(bookmarks.get((account, service)), vendor, start, end,
                                      sandbox=plain, service_id=service)
             for account, service in truth["services"]}
    assert stats["metric_days_by_service"] == {service: n for service, n in reads.items() if n}
    assert_lands(vendor, [first, second], truth)
