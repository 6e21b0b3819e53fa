"""Hostile 200s (see vendor_sandbox/hostile.py): each gets a defined behaviour.

One run per vendor serves a different hostile mode for each of several services, and a
hostile service list for one whole account; a second run, once the vendor is fixed, must
fill exactly what the first could not read. The rule under test: a partition that cannot
be read fails alone (nothing of it is emitted, its bookmark stays), data already extracted
is never lost, and every error names the vendor, account, service, day and what was wrong.

| mode | defined behaviour |
|---|---|
| malformed_json | retried (it may be a torn response), then the partition fails |
| wrong_shape | the partition fails at once: "expected a list under 'data'/'items'" |
| wrong_types | the partition fails, naming the field, the expected type and the value |
| missing_fields | the partition fails, naming the missing field |
| repeat_cursor (Y) | the partition fails: "the API repeated a cursor" |
| unknown_fields | records land; the new field (X) / metric (Y) is dropped, named in a warning |
| huge_page | the records land; the padding is dropped and never logged |
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from tests.chaos.checks import (
    assert_each_key_once,
    assert_lands,
    days_read_after,
    metric_keys_by_service,
    the_metrics_failure,
    truth_of,
    window,
    without,
)
from tests.chaos.configs import chaos_config
from tests.tap_runner import TapRun, run_tap
from tests.taps.conftest import sandbox_config
from tests.truth import emitted
from vendor_sandbox import run_sandbox
from vendor_sandbox.hostile import NEW_FIELD, NEW_METRIC, PADDING_FIELD

FAILING = {
    "malformed_json": {"x": "malformed JSON body", "y": "malformed JSON body"},
    "wrong_shape": {"x": "expected a list under 'data', got dict",
                    "y": "expected a list under 'items', got dict"},
    "wrong_types": {"x": "field 'requests' should be integer or null, got str '",
                    "y": "field 'estimated' should be bool, got str 'false'"},
    "missing_fields": {"x": "missing required field(s) date",
                       "y": "a row is missing its field 'ts'"},
    "repeat_cursor": {"y": "the API repeated a cursor"},
}
LANDING = ("unknown_fields", "huge_page")
# The hostile service list: a created_at / created_ts of the wrong type.
ACCOUNT_PROBLEM = {"x": "field 'created_at' should be string or null, got int",
                   "y": "field 'created_ts' should be integer or null, got str"}
WORLD = {"accounts": 5, "services_per_account": (2, 3)}
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class HostileRuns:
    vendor: str
    config: dict[str, Any]
    truth: dict[str, Any]
    account: str  # whose service list is hostile
    services: dict[str, tuple[str, str]]  # mode -> (account, service)
    first: TapRun
    summary: dict[str, Any]
    second: TapRun
    days_read: dict[str, int]  # by the second run, per service

    def failure(self, mode: str) -> dict[str, Any]:
        return the_metrics_failure(self.summary, *self.services[mode])


def assign_targets(vendor: str, truth: dict[str, Any]) -> tuple[str, dict[str, tuple]]:
    """One account for the hostile service list; one service with metrics per mode."""
    modes = [m for m in FAILING if vendor in FAILING[m]] + list(LANDING)
    with_metrics = sorted(metric_keys_by_service(truth))
    account = with_metrics[0][0]
    others = [ids for ids in with_metrics if ids[0] != account]
    assert len(others) >= len(modes), "the world is too small for one service per mode"
    return account, dict(zip(modes, others, strict=False))


@pytest.fixture(scope="module", params=["x", "y"])
def hostile(request: pytest.FixtureRequest, tmp_path_factory) -> HostileRuns:
    vendor = str(request.param)
    tmp_path = tmp_path_factory.mktemp(f"hostile-{vendor}")
    plain = sandbox_config(vendor, **WORLD)
    probe = truth_of(plain, chaos_config(vendor, "http://unused"))
    account, services = assign_targets(vendor, probe)
    modes = {service: mode for mode, (_, service) in services.items()} | {account: "wrong_types"}
    summary_path = tmp_path / "summary.json"
    with run_sandbox(sandbox_config(vendor, **WORLD, hostile_services=modes)) as sandbox:
        config = chaos_config(vendor, sandbox.url, max_retries=2, summary_path=str(summary_path))
        first = run_tap(vendor, config, tmp_path)
        summary = json.loads(summary_path.read_text())
        sandbox.update(hostile_services={})  # the vendor ships a fix
        sandbox.reset_stats()
        second = run_tap(vendor, config, tmp_path, state=first.final_state)
        days_read = sandbox.stats()["metric_days_by_service"]
    return HostileRuns(vendor, config, truth_of(plain, config), account, services, first,
                       summary, second, days_read)


@pytest.mark.parametrize("mode", list(FAILING))
def test_a_hostile_answer_fails_only_its_partition_and_says_why(hostile, mode):
    if hostile.vendor not in FAILING[mode]:
        pytest.skip("VendorX pages by number: it has no cursor to repeat")
    account, service = hostile.services[mode]
    failure = hostile.failure(mode)
    assert failure["error"] == "PartitionError"
    message = failure["message"]
    assert FAILING[mode][hostile.vendor] in message
    # Vendor, account, service and day(s), in the summary and in the log.
    assert f"vendor{hostile.vendor}" in message.lower()
    assert account in message
    assert service in message
    assert DAY.search(message), message
    assert message in hostile.first.stderr
    # Nothing of it was emitted, and its bookmark covers none of its days: the windows are
    # bookmarked by prefix, so at most days before the service had data are behind it.
    assert all(r["service_id"] != service for r in hostile.first.records["metrics"])
    bookmark = hostile.first.bookmarks().get((account, service))
    first_day = min(key[2] for key in hostile.truth["metrics"] if key[1] == service)
    assert bookmark is None or bookmark < first_day


def test_malformed_json_is_retried_before_the_partition_fails(hostile):
    assert "gave up after 3 attempts" in hostile.failure("malformed_json")["message"]


@pytest.mark.parametrize("mode", LANDING)
def test_tolerable_surprises_land_equal_to_truth(hostile, mode):
    account, service = hostile.services[mode]
    records = [r for r in hostile.first.records["metrics"] if r["service_id"] == service]
    got = emitted(hostile.vendor, {"metrics": records})["metrics"]
    wanted = {k: v for k, v in hostile.truth["metrics"].items() if k[1] == service}
    assert got == wanted
    assert len(records) == len(wanted)
    assert all(NEW_FIELD not in r and PADDING_FIELD not in r for r in records)
    assert hostile.first.bookmarks()[(account, service)] == hostile.config["end_date"]


def test_unknown_fields_are_named_in_a_warning(hostile):
    # VendorX records keep the vendor's fields: the new one is dropped against the schema.
    # VendorY records are the tap's own daily sums: a new metric is what gets named.
    named = NEW_FIELD if hostile.vendor == "x" else NEW_METRIC
    warnings = [line for line in hostile.first.stderr.splitlines() if "WARNING" in line]
    assert any(named in line for line in warnings), warnings


def test_huge_page_padding_is_never_logged(hostile):
    assert "x" * 200 not in hostile.first.stderr
    assert "x" * 200 not in hostile.first.stdout


def test_a_hostile_service_list_isolates_its_account(hostile):
    failures = hostile.summary["streams"]["services"]["failures"]
    assert [f["context"] for f in failures] == [{"account_id": hostile.account}]
    assert ACCOUNT_PROBLEM[hostile.vendor] in failures[0]["message"]
    assert f"tap-vendor{hostile.vendor}" in failures[0]["message"]
    assert all(r["account_id"] != hostile.account
               for stream in ("services", "metrics") for r in hostile.first.records[stream])


def test_everything_else_lands_and_the_next_run_fills_exactly_the_gap(hostile):
    failed = {service for mode, (_, service) in hostile.services.items() if mode in FAILING}
    assert hostile.first.returncode == 1, hostile.first.stderr[-3000:]
    assert_each_key_once(hostile.first)
    assert_lands(hostile.vendor, [hostile.first],
                 without(hostile.truth, accounts={hostile.account}, services=failed))

    assert hostile.second.returncode == 0, hostile.second.stderr[-3000:]
    assert_lands(hostile.vendor, [hostile.first, hostile.second], hostile.truth)
    start, end = window(hostile.config)
    gap = failed | {s for a, s in hostile.truth["services"] if a == hostile.account}
    bookmarks = hostile.first.bookmarks()
    assert all(bookmarks[key] == hostile.config["end_date"]
               for key in hostile.truth["services"] if key[1] not in gap)

    # The failed partitions' bookmarks only cover days before they had data (if any).
    assert hostile.days_read == {
        key[1]: days_read_after(bookmarks.get(key), hostile.vendor, start, end)
        for key in hostile.truth["services"]
    }
