"""A shard killed mid-run resumes alone: only it reruns, from its own confirmed state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq

from shardrun.jobs import all_shards
from singer_fanout.settings import Shard
from tests.shardrun.conftest import (
    REPO,
    Shards,
    accounts_of,
    full_range_days,
    partition_entries,
    partitions,
    resume_reads,
    run_token,
    services_by_account,
    truth,
)
from tests.truth import assert_matches_truth

WAIT_S = 90


def _tap_pid(config: Path) -> int | None:
    """The tap process started with this shard's config (its command line names it)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(config).encode() in argv and any(b"tap-vendor" in arg for arg in argv):
            return int(proc.name)
    return None


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def test_killed_shard_resumes_alone(shards_y: Shards, sandbox_y):
    shards = all_shards(3)
    # The victim shard owns several accounts; one of them fails for as long as the fault
    # lasts (the tap keeps retrying it), so the shard is still running when it is killed,
    # while its other accounts have been synced.
    victim = next(shard for shard in shards if len(accounts_of(shard)) >= 2)
    stuck_account = sorted(accounts_of(victim))[0]
    services = services_by_account("y")
    synced_first = {s for a in accounts_of(victim) - {stuck_account} for s in services[a]}
    sandbox_y.update(fail_accounts=frozenset({stuck_account}))
    shards_y.write_configs(sandbox_y.url, max_retries=1000, backoff_max_seconds=0.05)
    others = [shard for shard in shards if shard != victim]

    runner = subprocess.Popen(shards_y.command(3), cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _others_ok(shards_y, others) and _fully_read(sandbox_y, synced_first),
                  "the other shards to finish and the victim to read its healthy accounts")
        # The victim's tap writes STATE on its idle ticks (0.5 s) once its interval
        # (0.2 s) has passed; 60 more retries of the stuck account take longer than that.
        retried = sandbox_y.stats()["faults"]["fail_account"]
        _wait_for(lambda: sandbox_y.stats()["faults"]["fail_account"] >= retried + 60,
                  "the stuck account's retries")
        victim_config = shards_y.work / f"shard-{victim.index}-of-3" / "tap-config.json"
        pid = _tap_pid(victim_config)
        assert pid is not None, "the victim's tap is not running"
        # SIGKILL: no goodbye from the tap. The target drains at end of input and
        # confirms the last STATE the tap managed to send.
        os.kill(pid, signal.SIGKILL)
        stdout, stderr = runner.communicate(timeout=WAIT_S)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 1, stdout + stderr[-3000:]
    manifest = shards_y.manifest()["shards"]
    assert manifest[str(victim.index)]["status"] == "failed"
    assert "tap killed by signal 9" in manifest[str(victim.index)]["reason"]
    assert f"{victim} failed" in stdout

    saved_state = shards_y.state(victim)
    saved = partitions(saved_state)
    assert {service for _, service in saved} == synced_first
    files_before = shards_y.files()
    states_before = {s.index: json.dumps(shards_y.state(s)) for s in others}
    outcomes_before = {s.index: manifest[str(s.index)] for s in others}

    sandbox_y.update(fail_accounts=frozenset())
    sandbox_y.reset_stats()
    rerun = shards_y.run(3, "--rerun-failed")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr[-3000:]
    stats = sandbox_y.stats()

    # Only the victim ran: only its services were asked for; those it had confirmed read
    # just what their saved entry left due (the days not final, and any days past a
    # bookmark the kill left short), the stuck account's the whole range.
    # (Services with nothing due, e.g. created after the window, are not asked for at all.)
    victim_services = {s for a in accounts_of(victim) for s in services.get(a, ())}
    assert set(stats["metric_days_by_service"]) <= victim_services
    wanted = {entry["context"]["service_id"]: resume_reads(entry)
              for entry in partition_entries(saved_state)}
    wanted |= {service: full_range_days(service) for service in services[stuck_account]}
    assert stats["metric_days_by_service"] == {s: n for s, n in wanted.items() if n > 0}

    # The others are untouched: same state, same outcome, their files still there, and
    # every new file is the one rerun target's, holding only the victim's accounts.
    after = shards_y.manifest()["shards"]
    assert {s.index: json.dumps(shards_y.state(s)) for s in others} == states_before
    assert {s.index: after[str(s.index)] for s in others} == outcomes_before
    assert after[str(victim.index)]["status"] == "ok"
    assert after[str(victim.index)]["attempts"] == 2
    new_files = shards_y.files() - files_before
    assert files_before <= shards_y.files()
    assert len({run_token(name) for name in new_files}) == 1
    new_accounts = {
        account for name in new_files
        for account in pq.read_table(shards_y.out / "metrics" / name).column("account_id")
        .to_pylist()
    }
    assert new_accounts
    assert all(victim.owns(account) for account in new_accounts)

    assert_matches_truth("y", shards_y.dataset(), truth("y"))

    again = shards_y.run(3, "--rerun-failed")
    assert again.returncode == 0
    assert "nothing to rerun" in again.stdout


def _others_ok(shards: Shards, others: list[Shard]) -> bool:
    try:
        entries = shards.manifest()["shards"]
    except (OSError, ValueError):
        return False
    return all(entries.get(str(s.index), {}).get("status") == "ok" for s in others)


def _fully_read(sandbox, services: set[str]) -> bool:
    days = sandbox.stats()["metric_days_by_service"]
    return all(days.get(service, 0) >= full_range_days(service) for service in services)


def test_rerun_failed_needs_an_earlier_run_of_the_same_count(shards_y: Shards):
    missing = shards_y.run(2, "--rerun-failed")
    assert missing.returncode == 2
    assert "no earlier run" in missing.stderr
