"""The shards as a Prefect 3 flow: one mapped task per shard on prefect-dask's DaskTaskRunner
(a LocalCluster of worker processes), against a local Prefect server.

A shard whose vendor fails at first is retried by Prefect, alone: the other shards' taps
run once. A shard that still fails after its retries fails the run (exit 1, named with its
reason) while the others complete, and `--rerun-failed` completes it later. The union of
the shards equals the sandbox's truth. No credential reaches any output or the Prefect
server's database.

Starting a Prefect server is the expensive part (tens of seconds on a busy 2-core machine,
fresh SQLite), so the module starts one, with the runner's own offline start
(`prefect_api()`, what a run without `PREFECT_API_URL` does), and every run of the module
talks to it through `PREFECT_API_URL`."""

from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shardrun.jobs import all_shards
from tests.shardrun.conftest import (
    REPO,
    SECRET,
    Shards,
    accounts_of,
    partitions,
    services_by_account,
    truth,
)
from tests.truth import assert_matches_truth

WORKERS = 3
# Prefect's server starts in tens of seconds on a busy 2-core machine (fresh SQLite).
FLOW_TIMEOUT_S = 600
# pytest's 300 s is per test, the module's server start included in the first test's share:
# a loaded machine needs more for a server start and two flow runs.
TEST_TIMEOUT_S = 900
SERVER_TIMEOUT_S = 300
MAX_RETRIES = 1  # the tap's: its failing listing is asked twice, then the shard fails
ORGS_LISTING = "GET /api/v2/orgs"

# The runner's own offline start of a local Prefect server, held open until stdin closes.
HOLD_A_LOCAL_SERVER = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                    format="%(levelname)s %(name)s %(message)s")
from shardrun.prefect_flow import prefect_api
with prefect_api() as url:
    print(url, flush=True)
    sys.stdin.read()
"""


@dataclasses.dataclass(frozen=True)
class PrefectServer:
    url: str
    home: Path  # PREFECT_HOME: the server's SQLite database and log

    def env(self) -> dict[str, str]:
        return {**os.environ, "PREFECT_HOME": str(self.home), "PREFECT_API_URL": self.url}

    def stored(self) -> bytes:
        """Everything the server (and the runs' Prefect clients) wrote under PREFECT_HOME."""
        return b"".join(path.read_bytes() for path in self.home.rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    home = tmp_path_factory.mktemp("prefect")
    env = {**os.environ, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)  # offline: the runner's code starts a local server
    holder_log = home / "holder.log"
    with holder_log.open("w") as log:
        holder = subprocess.Popen([sys.executable, "-c", HOLD_A_LOCAL_SERVER], cwd=REPO,
                                  env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=log, text=True)
    assert holder.stdin is not None
    assert holder.stdout is not None
    try:
        # prefect_api() gives up after its own SERVER_START_TIMEOUT_S; then stdout closes.
        url = ""
        for line in holder.stdout:
            if line.startswith("http"):
                url = line.strip()
                break
        started = holder_log.read_text()
        assert url.startswith("http://127.0.0.1:"), started[-3000:]
        assert f"started a local Prefect server at {url} (SQLite under {home})" in started
        yield PrefectServer(url, home)
    finally:
        holder.stdin.close()  # prefect_api() stops the server on its way out
        try:
            holder.wait(timeout=SERVER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()


def _heal_when_failed(sandbox, runner: subprocess.Popen[str], healed: list[float]) -> None:
    """Let the vendor recover once the failing shard's tap has given its account up."""
    while runner.poll() is None:
        if sandbox.stats()["faults"].get("fail_account", 0) >= MAX_RETRIES + 1:
            sandbox.update(fail_accounts=frozenset())
            healed.append(time.monotonic())
            return
        time.sleep(0.05)


def _assert_no_secret(outputs: dict[str, bytes]) -> None:
    for where, text in outputs.items():
        assert SECRET.encode() not in text, f"the credential reached {where}"


def _quiet(stderr: str) -> None:
    """No Dask narration, no line per Prefect API call."""
    assert not [line for line in stderr.splitlines()
                if " distributed." in line and " INFO " in line], stderr[-3000:]
    assert "HTTP Request:" not in stderr


@pytest.mark.slow
@pytest.mark.timeout(TEST_TIMEOUT_S)
def test_prefect_maps_shards_on_dask_and_retries_a_failed_shard_alone(
    shards_y: Shards, sandbox_y, prefect_server: PrefectServer
):
    shards = all_shards(3)
    bad_account = sorted(accounts_of(shards[1]))[0]
    sandbox_y.update(fail_accounts=frozenset({bad_account}))
    shards_y.write_configs(sandbox_y.url, max_retries=MAX_RETRIES)

    command = shards_y.command(3, "--shard-retries", "1", "--retry-delay", "2",
                               executor="prefect", workers=WORKERS)
    runner = subprocess.Popen(command, cwd=REPO, env=prefect_server.env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    healed: list[float] = []
    healer = threading.Thread(target=_heal_when_failed, args=(sandbox_y, runner, healed))
    healer.start()
    try:
        stdout, stderr = runner.communicate(timeout=FLOW_TIMEOUT_S)
    finally:
        if runner.poll() is None:
            runner.kill()
        healer.join()
    assert runner.returncode == 0, stdout + stderr[-4000:]
    assert healed, "the failing shard never failed"

    # Each shard was a task run on a Dask worker process; shard 2 ran twice, the others once.
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

    # Quiet, and no credential anywhere, the Prefect server's database included.
    _quiet(stderr)
    stored = prefect_server.stored()
    assert stored, "the local Prefect server stored nothing under PREFECT_HOME"
    _assert_no_secret({"stdout": stdout.encode(), "stderr": stderr.encode(),
                       "the Prefect server's files": stored})


def test_a_failed_shard_reaches_the_flow_with_its_result():
    """The exception a failed shard's task raises crosses from the Dask worker pickled."""
    from shardrun.jobs import ShardResult  # noqa: PLC0415
    from shardrun.prefect_flow import ShardFailed  # noqa: PLC0415

    result = ShardResult(shard="2/3", status="failed", reason="tap exited 1", tries=2,
                         summary={"outcome": "partial_failure"})
    back = pickle.loads(pickle.dumps(ShardFailed(result)))  # noqa: S301 - our own bytes
    assert back.result == result
    assert str(back) == "shard 2/3 failed: tap exited 1"


SHARD_RETRIES = 2  # Prefect's: the failing shard's tap runs three times in the first run


def _run_flow(shards: Shards, server: PrefectServer, *extra: str
              ) -> subprocess.CompletedProcess[str]:
    command = shards.command(3, "--shard-retries", str(SHARD_RETRIES), "--retry-delay", "1",
                             *extra, executor="prefect", workers=WORKERS)
    return subprocess.run(command, cwd=REPO, env=server.env(), capture_output=True, text=True,
                          check=False, timeout=FLOW_TIMEOUT_S)


def _owned_by(records: dict[str, list[dict[str, Any]]], accounts: set[str]
              ) -> dict[str, list[dict[str, Any]]]:
    return {stream: [row for row in rows if row["account_id"] in accounts]
            for stream, rows in records.items()}


def _truth_of(accounts: set[str]) -> dict[str, dict[tuple[str, ...], Any]]:
    return {stream: {key: value for key, value in keyed.items() if key[0] in accounts}
            for stream, keyed in truth("y").items()}


def _work_files(shards: Shards) -> bytes:
    """What the runner wrote to its work directory, but the shards' configs (which hold
    the credential the taps need)."""
    return b"".join(path.read_bytes() for path in shards.work.rglob("*")
                    if path.is_file() and not path.name.endswith("config.json"))


@pytest.mark.slow
@pytest.mark.timeout(TEST_TIMEOUT_S)
def test_prefect_fails_a_shard_after_its_retries_and_reruns_it_later(
    shards_y: Shards, sandbox_y, prefect_server: PrefectServer
):
    shards = all_shards(3)
    bad = shards[1]
    bad_account = sorted(accounts_of(bad))[0]
    good_accounts = accounts_of(shards[0]) | accounts_of(shards[2])
    # The vendor fails the account's listings for the whole first run, every retry included.
    sandbox_y.update(fail_accounts=frozenset({bad_account}))
    shards_y.write_configs(sandbox_y.url, max_retries=MAX_RETRIES)

    first = _run_flow(shards_y, prefect_server)

    # The run fails (exit 1) only once every shard is recorded, and says which shard failed,
    # how often it was tried and why, down to the vendor's answer for the account.
    assert first.returncode == 1, first.stdout + first.stderr[-4000:]
    tries = SHARD_RETRIES + 1
    reason = "tap exited 1: some partitions failed (see the shard's summary)"
    assert f"2/3: failed after {tries} tries ({reason})" in first.stdout
    assert "ran 3 shard(s) on Prefect tasks on prefect-dask's DaskTaskRunner" in first.stdout
    assert "; 1 failed; work dir " in first.stdout
    assert f"--- 2/3 failed: {reason}" in first.stdout
    assert (f"failed partition: stream=services account_id={bad_account}: PartitionError: "
            f"VendorY org {bad_account} apps: HTTP 500") in first.stdout
    assert (f"ShardsFailed: shard(s) 2 of 3 failed; see the report and {shards_y.work}"
            "/manifest.json") in first.stderr
    # The vendor's own count: each of the shard's tries gave the account up after the tap's
    # retries; every tap run lists the orgs once, and only the failing shard ran again.
    stats = sandbox_y.stats()
    assert stats["faults"]["fail_account"] == tries * (MAX_RETRIES + 1)
    assert stats["requests"][ORGS_LISTING] == 2 + tries

    manifest = shards_y.manifest()["shards"]
    assert {key: (entry["status"], entry["reason"], entry["tries"], entry["attempts"])
            for key, entry in manifest.items()} == {
        "1": ("ok", "", 1, 1), "2": ("failed", reason, tries, 1), "3": ("ok", "", 1, 1)}
    assert manifest["2"]["summary"]["outcome"] == "partial_failure"

    # The other shards completed: their state covers every service of their accounts, and
    # their data is the truth for those accounts. The failing account has no bookmark.
    services = services_by_account("y")
    for shard in (shards[0], shards[2]):
        assert set(partitions(shards_y.state(shard))) == {
            (account, service) for account in accounts_of(shard)
            for service in services[account]}
    assert bad_account not in {account for account, _ in partitions(shards_y.state(bad))}
    assert_matches_truth("y", _owned_by(shards_y.dataset(), good_accounts),
                         _truth_of(good_accounts))
    kept_states = {shard.index: shards_y.state(shard) for shard in (shards[0], shards[2])}
    kept_files = shards_y.files()
    _quiet(first.stderr)

    # The vendor recovers; --rerun-failed with the same executor runs only the failed shard.
    sandbox_y.update(fail_accounts=frozenset())
    sandbox_y.reset_stats()
    rerun = _run_flow(shards_y, prefect_server, "--rerun-failed")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr[-4000:]
    assert "2/3: ok" in rerun.stdout
    assert "ran 1 shard(s) on Prefect tasks" in rerun.stdout
    assert "; 0 failed; work dir " in rerun.stdout
    assert sandbox_y.stats()["requests"][ORGS_LISTING] == 1
    after = shards_y.manifest()["shards"]
    assert (after["2"]["status"], after["2"]["tries"], after["2"]["attempts"]) == ("ok", 1, 2)
    assert {key: after[key] for key in ("1", "3")} == {key: manifest[key] for key in ("1", "3")}
    assert {index: shards_y.state(all_shards(3)[index - 1]) for index in kept_states} \
        == kept_states
    assert kept_files <= shards_y.files()
    assert_matches_truth("y", shards_y.dataset(), truth("y"))
    _quiet(rerun.stderr)

    _assert_no_secret({
        "the failed run's stdout": first.stdout.encode(),
        "the failed run's stderr": first.stderr.encode(),
        "the rerun's stdout": rerun.stdout.encode(), "the rerun's stderr": rerun.stderr.encode(),
        "the work directory (manifest, states, summaries, logs)": _work_files(shards_y),
        "the Prefect server's files": prefect_server.stored(),
    })
