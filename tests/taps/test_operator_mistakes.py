"""Configuration and state mistakes get clear answers, before any request where they can.

Each case runs the tap as a subprocess against the sandbox: unknown setting names (with a
"did you mean"), `account_ids` the vendor does not list, a `summary_path` that cannot be
written, and state files that are corrupt, empty, of the wrong shape, another tap's, wrapped
the way `meltano state get` prints them, bookmarked in the future, or holding partitions the
vendor no longer lists.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.tap_runner import TapRun, run_tap
from tests.taps.conftest import tap_config

METRICS_KEYS = ("account_id", "service_id")
WINDOW_DAYS = 21  # tap_config: start_date 20 days before the sandbox's yesterday


def write_state(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "state.json"
    path.write_text(text)
    return path


def run_with_state_file(vendor: str, config: dict[str, Any], tmp_path: Path,
                        state_text: str) -> tuple[TapRun, Path]:
    """run_tap with `--state` pointing at a file holding exactly `state_text`."""
    path = write_state(tmp_path, state_text)
    return run_tap(vendor, config, tmp_path, extra_args=("--state", str(path))), path


def first_run(vendor: str, sandbox: Any, tmp_path: Path) -> TapRun:
    run = run_tap(vendor, tap_config(vendor, sandbox.url), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    sandbox.reset_stats()
    return run


def metrics_partition(account: str, service: str, day: str) -> dict[str, Any]:
    return {"context": {"account_id": account, "service_id": service},
            "replication_key": "date", "replication_key_value": day}


# --- settings ------------------------------------------------------------------------------

def test_unknown_settings_are_named_with_a_did_you_mean_before_any_request(
        vendor, sandbox, tmp_path):
    config = tap_config(vendor, sandbox.url)
    start = config.pop("start_date")
    config |= {"start_dat": start, "max_concurency": 8, "colour": "blue"}
    run = run_tap(vendor, config, tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    assert "'start_dat' (did you mean 'start_date'?)" in run.stderr
    assert "'max_concurency' (did you mean 'max_concurrency'?)" in run.stderr
    assert "'colour', " in run.stderr  # nothing near it: no guess
    assert sandbox.stats()["requests_total"] == 0
    assert run.records == {}


def test_singer_sdk_settings_are_not_unknown(vendor, sandbox, tmp_path):
    config = tap_config(vendor, sandbox.url, stream_maps={}, flattening_enabled=False,
                        flattening_max_depth=1)
    run = run_tap(vendor, config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]


@pytest.mark.parametrize("shape", ["under_a_file", "a_directory"])
def test_a_summary_path_that_cannot_be_written_fails_before_any_request(
        vendor, sandbox, tmp_path, shape):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file, where the summary's directory should be")
    path = blocker / "summary.json" if shape == "under_a_file" else tmp_path
    run = run_tap(vendor, tap_config(vendor, sandbox.url, summary_path=str(path)), tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    assert "setting 'summary_path'" in run.stderr
    assert str(path) in run.stderr
    assert sandbox.stats()["requests_total"] == 0


def test_account_ids_the_vendor_does_not_list_fail_as_partitions(vendor, sandbox, tmp_path):
    listed = first_run(vendor, sandbox, tmp_path).records["accounts"][0]["account_id"]
    missing = ["acc_nope" if vendor == "x" else f"{vendor}-missing-1", "zz-missing-2"]
    summary_path = tmp_path / "summary.json"
    config = tap_config(vendor, sandbox.url, account_ids=[listed, *missing],
                        summary_path=str(summary_path))
    run = run_tap(vendor, config, tmp_path)
    assert run.returncode == 1, run.stderr[-3000:]
    summary = json.loads(summary_path.read_text())
    failures = summary["streams"]["accounts"]["failures"]
    assert sorted(f["context"]["account_id"] for f in failures) == sorted(missing)
    for failure in failures:
        assert failure["error"] == "AccountNotListed"
        assert "not listed by the vendor" in failure["message"]
        assert failure["context"]["account_id"] in failure["message"]
    assert summary["outcome"] == "partial_failure"
    # The listed account synced as usual.
    assert {r["account_id"] for r in run.records["metrics"]} == {listed}


# --- state files ---------------------------------------------------------------------------

BAD_STATES = {
    "corrupt JSON": ('{"bookmarks": {"metrics": ', "is not valid JSON"),
    "empty": ("", "is empty"),
    "a list": ("[]", "should be a JSON object, got a list"),
    "partitions as a dict": ('{"bookmarks": {"metrics": {"partitions": {"0": {}}}}}',
                             "'bookmarks.metrics.partitions' should be a list of partitions, "
                             "got an object"),
    "a bookmark of the wrong type": (
        json.dumps({"bookmarks": {"metrics": {"partitions": [
            metrics_partition("a1", "s1", "2026-11-01") | {"replication_key_value": 20261101},
        ]}}}),
        "bookmarks.metrics.partitions[0]' (account_id=a1 service_id=s1): the bookmark should "
        "be a UTC day (YYYY-MM-DD), got a number 20261101",
    ),
    "days not final that are not days": (
        json.dumps({"bookmarks": {"metrics": {"partitions": [
            metrics_partition("a1", "s1", "2026-11-01") | {"unsettled": ["2026-10-30", "soon"]},
        ]}}}),
        "bookmarks.metrics.partitions[0]' (account_id=a1 service_id=s1): 'unsettled' (the days "
        "not final yet) has \"soon\", which is not a day or a range; expected UTC days "
        "YYYY-MM-DD or ranges YYYY-MM-DD/YYYY-MM-DD",
    ),
    "a range of days backwards": (
        json.dumps({"bookmarks": {"metrics": {"partitions": [
            metrics_partition("a1", "s1", "2026-11-01") | {"unsettled": ["2026-10-30/2026-10-01"]},
        ]}}}),
        "'unsettled' (the days not final yet) has \"2026-10-30/2026-10-01\", a range that ends "
        "before it starts",
    ),
    "a last day that is not a day": (
        json.dumps({"bookmarks": {"metrics": {"partitions": [
            metrics_partition("a1", "s1", "2026-11-01") | {"ends": 7},
        ]}}}),
        "'ends' (the service's last day) should be a UTC day (YYYY-MM-DD), got a number 7",
    ),
    "another tap's streams only": (
        json.dumps({"bookmarks": {"issues": {"partitions": [
            {"context": {"repo": "r"}, "replication_key": "updated_at",
             "replication_key_value": "2026-11-01T00:00:00Z"}]}}}),
        "none of its bookmarks belong to",
    ),
}


@pytest.mark.parametrize("case", list(BAD_STATES))
def test_an_unusable_state_file_is_exit_2_naming_the_file_and_the_problem(
        vendor, sandbox, tmp_path, case):
    text, problem = BAD_STATES[case]
    run, path = run_with_state_file(vendor, tap_config(vendor, sandbox.url), tmp_path, text)
    assert run.returncode == 2, run.stderr[-3000:]
    assert f"state file {path}: " in run.stderr
    assert problem in run.stderr
    assert "Traceback" not in run.stderr
    assert sandbox.stats()["requests_total"] == 0


def test_another_taps_state_is_refused(vendor, sandbox, tmp_path):
    state = first_run(vendor, sandbox, tmp_path).final_state
    assert state["written_by"] == f"tap-vendor{vendor}"
    state["written_by"] = "tap-vendorq"
    run, path = run_with_state_file(vendor, tap_config(vendor, sandbox.url), tmp_path,
                                    json.dumps(state))
    assert run.returncode == 2, run.stderr[-3000:]
    assert f"state file {path}: was written by tap-vendorq, not tap-vendor{vendor}" in run.stderr
    assert sandbox.stats()["requests_total"] == 0


def test_meltanos_wrapped_state_is_unwrapped_and_foreign_parts_are_ignored_with_warnings(
        vendor, sandbox, tmp_path):
    state = first_run(vendor, sandbox, tmp_path).final_state
    state["bookmarks"]["orgs"] = {"partitions": []}  # a stream this tap does not have
    state["bookmarks"]["metrics"]["partitions"].append(
        {"context": {"org_id": "o-1", "app_id": "a-1"}, "replication_key": "date",
         "replication_key_value": "2026-11-01"})  # another stream's context keys
    run, path = run_with_state_file(vendor, tap_config(vendor, sandbox.url), tmp_path,
                                    json.dumps({"singer_state": state}))
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stderr.splitlines()
    assert any("INFO" in line and f"state file {path}: unwrapped Meltano's" in line
               for line in lines)
    assert any("WARNING" in line and "ignoring bookmarks of streams" in line and "orgs" in line
               for line in lines)
    assert any("WARNING" in line and "ignoring 1 partition(s) of 'bookmarks.metrics'" in line
               for line in lines)
    # The bookmarks were used: every service read only its lookback, not the whole window.
    days_read = sandbox.stats()["metric_days_by_service"]
    assert days_read
    assert max(days_read.values()) < WINDOW_DAYS, days_read


def test_a_bookmark_in_the_future_is_warned_about_by_partition(vendor, sandbox, tmp_path):
    state = first_run(vendor, sandbox, tmp_path).final_state
    entry = state["bookmarks"]["metrics"]["partitions"][0]
    future = (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=30)).isoformat()
    entry["replication_key_value"] = future
    run, _ = run_with_state_file(vendor, tap_config(vendor, sandbox.url), tmp_path,
                                 json.dumps(state))
    assert run.returncode == 0, run.stderr[-3000:]
    ids = " ".join(f"{key}={entry['context'][key]}" for key in METRICS_KEYS)
    warning = [line for line in run.stderr.splitlines() if "in the future" in line]
    assert len(warning) == 1, warning
    assert "WARNING" in warning[0]
    assert ids in warning[0]
    assert future in warning[0]


@pytest.mark.parametrize("prune", [False, True])
def test_bookmarks_of_partitions_the_vendor_no_longer_lists_are_counted(
        vendor, sandbox, tmp_path, prune):
    first = first_run(vendor, sandbox, tmp_path)
    state = json.loads(json.dumps(first.final_state))
    account = first.records["accounts"][0]["account_id"]
    gone = [metrics_partition("acc_gone", "svc_a", "2026-11-01"),  # a whole account gone
            metrics_partition("acc_gone", "svc_b", "2026-11-01"),
            metrics_partition(account, "svc_gone", "2026-11-01")]  # one service gone
    state["bookmarks"]["metrics"]["partitions"] += gone
    summary_path = tmp_path / "summary.json"
    config = tap_config(vendor, sandbox.url, summary_path=str(summary_path),
                        prune_unlisted_state=prune)
    run, _ = run_with_state_file(vendor, config, tmp_path, json.dumps(state))
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(summary_path.read_text())
    assert summary["unlisted_state_partitions"] == {"metrics": 3}
    assert summary["unlisted_state_pruned"] is prune
    assert "state: 3 metrics bookmark(s) belong to accounts or services the vendor no " \
           "longer lists" in run.stderr
    kept = {(p["context"]["account_id"], p["context"]["service_id"])
            for p in run.final_state["bookmarks"]["metrics"]["partitions"]}
    gone_ids = {(p["context"]["account_id"], p["context"]["service_id"]) for p in gone}
    assert (gone_ids <= kept) is not prune
    assert not (gone_ids & kept) or not prune
    assert set(first.bookmarks()) <= kept


def test_bookmarks_outside_account_ids_are_not_counted_as_unlisted(vendor, sandbox, tmp_path):
    first = first_run(vendor, sandbox, tmp_path)
    accounts = sorted({r["account_id"] for r in first.records["accounts"]})
    summary_path = tmp_path / "summary.json"
    config = tap_config(vendor, sandbox.url, account_ids=accounts[:1],
                        summary_path=str(summary_path))
    run, _ = run_with_state_file(vendor, config, tmp_path, json.dumps(first.final_state))
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(summary_path.read_text())["unlisted_state_partitions"] == {}
