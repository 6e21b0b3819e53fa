"""VendorZ's asynchronous reports through the kit's job steps, the tap as a subprocess:
reports of many projects in flight at once whatever max_concurrency is, and a report that
fails or expires failing its own project's partition only."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess

from tests.tap_runner import BIN, run_tap
from tests.taps.conftest import SECRET, sandbox_config, tap_config
from tests.truth import assert_matches_truth, expected
from vendor_sandbox import run_sandbox, truth_records

WORLD = {"accounts": 4, "services_per_account": (4, 4), "deleted_service_rate": 0.0}


def test_reports_wait_without_holding_a_worker(tmp_path):
    knobs = {**WORLD, "report_delay_s": 1.0}
    with run_sandbox(sandbox_config("z", **knobs)) as sandbox:
        config = tap_config("z", sandbox.url, max_concurrency=2, report_poll_seconds=0.5)
        run = run_tap("z", config, tmp_path)
        stats = sandbox.stats()
    assert run.returncode == 0, run.stderr[-3000:]
    projects = len(run.records["services"])
    assert projects == 16
    # Two workers, yet every project's report was being prepared at the same time.
    assert stats["gauges"]["reports_outstanding"]["max"] > 2 * config["max_concurrency"]
    assert stats["events"]["reports_created"] == projects  # one per project, none twice
    days = (dt.date.fromisoformat(config[key]) for key in ("start_date", "end_date"))
    truth = expected(sandbox.config, *days)
    assert_matches_truth("z", run.records, truth)


def test_a_failed_or_expired_report_fails_its_project_only(tmp_path):
    projects = [r for r in truth_records(sandbox_config("z", **WORLD)) if r["type"] == "service"]
    knobs = {**WORLD, "report_delay_s": 0.2, "failed_report_rate": 0.35}  # none: 0.1 %
    summary_path = tmp_path / "summary.json"
    with run_sandbox(sandbox_config("z", **knobs)) as sandbox:
        config = tap_config("z", sandbox.url, report_poll_seconds=0.1,
                            summary_path=str(summary_path))
        run = run_tap("z", config, tmp_path)
    assert run.returncode == 1, run.stderr[-3000:]
    summary = json.loads(summary_path.read_text())
    failures = summary["streams"]["metrics"]["failures"]
    assert failures, "no report failed: the test would prove nothing"
    assert len(failures) < len(projects)
    assert all("report_generation_failed" in failure["message"] for failure in failures)
    failed = {(f["context"]["account_id"], f["context"]["service_id"]) for f in failures}
    # Every other project is bookmarked; the failed ones are not.
    assert set(run.bookmarks()) == {(p["account_id"], p["service_id"]) for p in projects} - failed

    # A report downloaded after its time is gone (410): the same isolation.
    knobs = {**WORLD, "report_delay_s": 0.2, "report_ttl_s": 0.05}
    with run_sandbox(sandbox_config("z", **knobs)) as sandbox:
        config = tap_config("z", sandbox.url, report_poll_seconds=0.5,
                            summary_path=str(summary_path))
        run = run_tap("z", config, tmp_path)
    assert run.returncode == 1
    failures = json.loads(summary_path.read_text())["streams"]["metrics"]["failures"]
    assert len(failures) == len(projects)
    assert all("report_expired" in failure["message"] for failure in failures)
    assert len(run.records["services"]) == len(projects)  # the listings were not touched


def test_access_tokens_never_appear_even_at_debug(tmp_path):
    with run_sandbox(sandbox_config("z", **WORLD)) as sandbox:
        config = tap_config("z", sandbox.url)
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps(config))
        sandbox.update(token_ttl_s=1.0)  # a fresh token every ~0.9 s: several to leak
        completed = subprocess.run(
            [str(BIN / "tap-vendorz"), "--config", str(config_file)], capture_output=True,
            text=True, timeout=180, check=False, env={**os.environ, "LOGLEVEL": "DEBUG"},
        )
        issued = sandbox.stats()["events"]["tokens_issued"]
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert issued >= 1
    assert "DEBUG" in completed.stderr  # the run really logged at DEBUG
    for output in (completed.stderr, completed.stdout):
        assert "zat_" not in output, "an access token reached the output"
        assert SECRET not in output
