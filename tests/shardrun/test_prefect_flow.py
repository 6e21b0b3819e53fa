"""The shards as a Prefect 3 flow: one mapped task per shard on prefect-dask's DaskTaskRunner
(a LocalCluster of worker processes), with Prefect's own local server started for the run.

A shard whose vendor fails at first is retried by Prefect, alone: the other shards' taps
run once. The union of the shards equals the sandbox's truth. No credential reaches the
Prefect server's database."""

from __future__ import annotations

import os
import pickle
import subprocess
import threading
import time

import pytest

from shardrun.jobs import all_shards
from tests.shardrun.conftest import REPO, SECRET, Shards, accounts_of, truth
from tests.truth import assert_matches_truth

WORKERS = 3
# Prefect's server starts in tens of seconds on a busy 2-core machine (fresh SQLite).
FLOW_TIMEOUT_S = 600
MAX_RETRIES = 1  # the tap's: its failing listing is asked twice, then the shard fails
ORGS_LISTING = "GET /api/v2/orgs"


def _heal_when_failed(sandbox, runner: subprocess.Popen[str], healed: list[float]) -> None:
    """Let the vendor recover once the failing shard's tap has given its account up."""
    while runner.poll() is None:
        if sandbox.stats()["faults"].get("fail_account", 0) >= MAX_RETRIES + 1:
            sandbox.update(fail_accounts=frozenset())
            healed.append(time.monotonic())
            return
        time.sleep(0.05)


@pytest.mark.slow
def test_prefect_maps_shards_on_dask_and_retries_a_failed_shard_alone(
    shards_y: Shards, sandbox_y, tmp_path
):
    shards = all_shards(3)
    bad_account = sorted(accounts_of(shards[1]))[0]
    sandbox_y.update(fail_accounts=frozenset({bad_account}))
    shards_y.write_configs(sandbox_y.url, max_retries=MAX_RETRIES)
    prefect_home = tmp_path / "prefect"
    env = {**os.environ, "PREFECT_HOME": str(prefect_home)}
    env.pop("PREFECT_API_URL", None)  # offline: the runner starts a local server

    command = shards_y.command(3, "--shard-retries", "1", "--retry-delay", "2",
                               executor="prefect", workers=WORKERS)
    runner = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    healed: list[float] = []
    healer = threading.Thread(target=_heal_when_failed, args=(sandbox_y, runner, healed))
    healer.start()
    stdout, stderr = runner.communicate(timeout=FLOW_TIMEOUT_S)
    healer.join()
    assert runner.returncode == 0, stdout + stderr[-4000:]
    assert healed, "the failing shard never failed"

    # Each shard was a task run on a Dask worker process; shard 2 ran twice, the others once.
    assert "started a local Prefect server at http://127.0.0.1:" in stderr
    assert "DaskTaskRunner" in stdout
    assert "2/3: ok after 2 tries" in stdout
    entries = shards_y.manifest()["shards"]
    assert {key: (entry["status"], entry["tries"]) for key, entry in entries.items()} == {
        "1": ("ok", 1), "2": ("ok", 2), "3": ("ok", 1)}
    assert all(not entry["ran_on"].endswith(f":{runner.pid}") for entry in entries.values())
    # The sandbox's own count: every tap run lists the orgs once. Three shards and one
    # retry: the shards that succeeded were not run again.
    assert sandbox_y.stats()["requests"][ORGS_LISTING] == 4

    # The union of the shards is the whole dataset.
    assert_matches_truth("y", shards_y.dataset(), truth("y"))

    # Quiet: no Dask narration, no line per Prefect API call. No credential anywhere,
    # the Prefect server's database included.
    assert not [line for line in stderr.splitlines()
                if " distributed." in line and " INFO " in line], stderr[-3000:]
    assert "HTTP Request:" not in stderr
    stored = b"".join(path.read_bytes() for path in prefect_home.rglob("*") if path.is_file())
    assert stored, "the local Prefect server stored nothing under PREFECT_HOME"
    for where, text in {"stdout": stdout.encode(), "stderr": stderr.encode(),
                        "the Prefect server's files": stored}.items():
        assert SECRET.encode() not in text, f"the credential reached {where}"


def test_a_failed_shard_reaches_the_flow_with_its_result():
    """The exception a failed shard's task raises crosses from the Dask worker pickled."""
    from shardrun.jobs import ShardResult  # noqa: PLC0415
    from shardrun.prefect_flow import ShardFailed  # noqa: PLC0415

    result = ShardResult(shard="2/3", status="failed", reason="tap exited 1", tries=2,
                         summary={"outcome": "partial_failure"})
    back = pickle.loads(pickle.dumps(ShardFailed(result)))  # noqa: S301 - our own bytes
    assert back.result == result
    assert str(back) == "shard 2/3 failed: tap exited 1"
