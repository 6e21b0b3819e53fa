"""The shards fan out on a Dask LocalCluster of worker processes; a failing shard is
reported with its own summary and the others run to their end."""

from __future__ import annotations

import os
import subprocess
import sys

from shardrun.jobs import all_shards
from tests.shardrun.conftest import REPO, RUN_TIMEOUT_S, Shards, accounts_of, truth
from tests.truth import assert_matches_truth

WORKERS = 3


def test_shards_run_on_local_cluster_workers_and_fail_alone(shards_y: Shards, sandbox_y):
    shards = all_shards(3)
    failing = shards[1]
    bad_account = sorted(accounts_of(failing))[0]
    sandbox_y.update(fail_accounts=frozenset({bad_account}))
    shards_y.write_configs(sandbox_y.url, max_retries=1)

    runner = subprocess.Popen(shards_y.command(3, executor="dask", workers=WORKERS),
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    stdout, stderr = runner.communicate(timeout=RUN_TIMEOUT_S)
    assert runner.returncode == 1, stdout + stderr[-3000:]
    assert f"LocalCluster of {WORKERS} worker process(es)" in stdout
    # Dask's own narration (scheduler, nannies, workers starting and stopping) stays quiet
    # in the runner and in the worker processes; the shards' outcomes are what is said.
    assert not [line for line in stderr.splitlines() if " distributed." in line
                and (" INFO " in line or "| INFO" in line)], stderr[-3000:]

    entries = shards_y.manifest()["shards"]
    assert {index: entry["status"] for index, entry in entries.items()} == {
        "1": "ok", "2": "failed", "3": "ok"}
    # Each shard ran in a Dask worker process, not in the runner.
    assert all(not entry["ran_on"].endswith(f":{runner.pid}") for entry in entries.values())
    # The failed shard's own summary names the account that failed, and so does the report.
    failed = entries["2"]
    assert "some partitions failed" in failed["reason"]
    assert failed["summary"]["outcome"] == "partial_failure"
    failures = failed["summary"]["streams"]["services"]["failures"]
    assert [f["context"] for f in failures] == [{"account_id": bad_account}]
    assert f"failed partition: stream=services account_id={bad_account}" in stdout
    # The others landed everything they own.
    landed = {row["account_id"] for row in shards_y.dataset()["metrics"]}
    for shard in (shards[0], shards[2]):
        assert accounts_of(shard) <= landed | _accounts_without_metrics()

    # Once the vendor recovers, rerunning the failed shard completes the dataset.
    sandbox_y.update(fail_accounts=frozenset())
    rerun = shards_y.run(3, "--rerun-failed")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr[-3000:]
    assert "ran 1 shard(s)" in rerun.stdout
    assert_matches_truth("y", shards_y.dataset(), truth("y"))


def _accounts_without_metrics() -> set[str]:
    with_metrics = {key[0] for key in truth("y")["metrics"]}
    return {key[0] for key in truth("y")["accounts"]} - with_metrics


def test_dask_stays_out_until_a_run_asks_for_it(shards_y: Shards):
    # Importing the runner, or running without Dask, must not import it (it is an optional
    # extra); asking for the Dask executor without it installed gives a clear error.
    probe = (
        "import sys; sys.argv[0] = 'shardrun'\n"
        "import shardrun.cli, shardrun.runner, shardrun.state_merge\n"
        "assert 'distributed' not in sys.modules and 'dask' not in sys.modules, 'imported'\n"
        "sys.modules['distributed'] = None  # as if the extra were not installed\n"
        "sys.exit(shardrun.cli.main(sys.argv[1:]))\n"
    )
    command = [sys.executable, "-c", probe, *shards_y.command(2, executor="dask")[3:]]
    missing = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False,
                             timeout=RUN_TIMEOUT_S)
    assert missing.returncode == 2, missing.stderr[-3000:]
    assert "pip install 'shardrun[dask]'" in missing.stderr
    assert not (shards_y.work / "manifest.json").exists(), "no shard may be marked running"


def test_dask_logs_are_quiet_unless_asked_for(monkeypatch):
    from shardrun.executors import DASK_LOG_LEVEL_VARIABLE, quiet_dask  # noqa: PLC0415

    monkeypatch.delenv(DASK_LOG_LEVEL_VARIABLE, raising=False)
    with quiet_dask(show_logs=False):
        # What a spawned worker process reads when it imports distributed.
        assert os.environ[DASK_LOG_LEVEL_VARIABLE] == "warning"
    assert DASK_LOG_LEVEL_VARIABLE not in os.environ
    with quiet_dask(show_logs=True):
        assert DASK_LOG_LEVEL_VARIABLE not in os.environ
