"""Kill a whole `meltano run` (SIGKILL to meltano, tap and target), then run again.

Nothing is lost: the union of the Parquet files equals the truth, and the rerun resumed
from the state Meltano saved before the kill instead of starting over.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time

import pytest

from tests.e2e.test_meltano_project import parquet_records
from tests.truth import assert_matches_truth, expected
from vendor_sandbox import SandboxConfig, run_sandbox

# Meltano runs in the session's installed project: tens of seconds per test.
pytestmark = pytest.mark.slow

TOKEN = "kill-test-token-77b1"
STATE_ID = "dev:tap-vendorx-to-target-parquet"


def wait_for_saved_partitions(project, state_id, process, timeout_s=60.0) -> list[dict]:
    """Poll Meltano's state store until the running job has checkpointed some services."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        saved = project.meltano("state", "get", state_id)
        if saved.returncode == 0 and saved.stdout.strip() not in ("", "{}"):
            state = json.loads(saved.stdout).get("singer_state", {})
            partitions = state.get("bookmarks", {}).get("metrics", {}).get("partitions", [])
            if partitions:
                return list(partitions)
        time.sleep(0.2)
    if process.poll() is not None:
        # The run ended on its own before any checkpoint: show why, not just that.
        why = process.stderr.read()[-4000:] if process.stderr else ""
        raise AssertionError(f"meltano run exited {process.returncode} before Meltano saved "
                             f"any state:\n{why}")
    raise AssertionError("Meltano saved no state while the run was going")


def test_killed_meltano_run_resumes_without_loss(project, tmp_path):
    today = dt.date.today()
    world = SandboxConfig(vendor="x", seed=21, today=today, accounts=8,
                          services_per_account=(4, 6), history_days=40, latency_ms=200,
                          rate_limit=100_000, token=TOKEN)
    start = today - dt.timedelta(days=35)
    destination = tmp_path / "parquet"
    with run_sandbox(world) as sandbox:
        env = {
            "TAP_VENDORX_SANDBOX": "false", "TAP_VENDORX_API_URL": sandbox.url,
            "TAP_VENDORX_API_TOKEN": TOKEN, "TAP_VENDORX_START_DATE": start.isoformat(),
            "TAP_VENDORX_MAX_CONCURRENCY": "1", "TAP_VENDORX_STATE_INTERVAL_SECONDS": "1",
            "TARGET_PARQUET_DESTINATION_PATH": str(destination),
            # Small batches: the target drains (and so acknowledges state) while running.
            "TARGET_PARQUET_MAX_BATCH_SIZE": "50", "TARGET_PARQUET_FLUSH_INTERVAL_SECONDS": "1",
        }
        args = ("run", "--state-id-suffix", "killed", "tap-vendorx", "target-parquet")
        process = project.popen(*args, env=env)
        partitions = wait_for_saved_partitions(project, f"{STATE_ID}:killed", process)
        assert process.poll() is None, "the run finished before it could be killed"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        # Whatever Meltano saved by the moment of the kill is what the rerun starts from.
        saved = project.meltano("state", "get", f"{STATE_ID}:killed")
        partitions = json.loads(saved.stdout)["singer_state"]["bookmarks"]["metrics"]["partitions"]

        sandbox.reset_stats()
        # The killed job still looks "running" to Meltano; --force is how an operator (or a
        # scheduler's retry) takes over instead of waiting for it to be declared stale.
        rerun = project.meltano("run", "--force", *args[1:], env=env)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        days_asked = sandbox.stats()["metric_days_by_service"]

    # Resumed: each service bookmarked before the kill re-reads only what its bookmark had not
    # reached (a backfill's later windows) plus its days not final yet (VendorX: at most 3).
    end = today - dt.timedelta(days=1)
    for partition in partitions:
        service, bookmark = partition["context"]["service_id"], partition["replication_key_value"]
        unreached = (end - dt.date.fromisoformat(bookmark[:10])).days
        assert days_asked.get(service, 0) <= unreached + 4, (service, bookmark, days_asked[service])
    records = {s: parquet_records(destination / s) for s in ("accounts", "services", "metrics")}
    assert_matches_truth("x", records, expected(world, start, today - dt.timedelta(days=1)))
