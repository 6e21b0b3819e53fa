"""Changing N: the state of N shards is split among M, and every account is synced once."""

from __future__ import annotations

import json
import subprocess
import sys

from shardrun.jobs import all_shards
from shardrun.state_merge import merge_states, state_for_shard
from singer_fanout.settings import Shard
from tests.shardrun.conftest import (
    FULL_RANGE_DAYS,
    REPO,
    full_range_days,
    partitions,
    rerun_reads,
    services_by_account,
    truth,
)
from tests.truth import assert_matches_truth


def test_resharding_2_to_3_carries_state_and_covers_every_account_once(shards_y, sandbox_y):
    first = shards_y.run(2)
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    old_states = [shards_y.state(shard) for shard in all_shards(2)]

    sandbox_y.reset_stats()
    second = shards_y.run(3)
    assert second.returncode == 0, second.stdout + second.stderr[-3000:]
    assert "resharded 2 -> 3" in second.stdout
    stats = sandbox_y.stats()

    # Every service was read by exactly one of the 3 shards, and only its days not final
    # yet: the bookmarks of the 2-shard run came along (without them: the full range, or
    # twice).
    reads = rerun_reads("y")
    assert stats["metric_days_by_service"] == reads
    assert max(reads.values()) < FULL_RANGE_DAYS  # else the check above could not tell

    held = []
    for shard in all_shards(3):
        mine = partitions(shards_y.state(shard))
        assert mine, f"{shard} got no accounts"
        assert all(shard.owns(account) for account, _ in mine)
        held += mine
    assert sorted(held) == sorted(partitions(merge_states(old_states)))
    with_days = {s for ss in services_by_account("y").values() for s in ss
                 if full_range_days(s) > 0}
    assert len(held) == len(set(held)) == len(with_days)

    # The 2-shard folders are retired, so nothing can resume from them by mistake.
    assert not (shards_y.work / "shard-1-of-2").exists()
    assert len(list((shards_y.work / "retired").glob("*-of-2/shard-*-of-2/state.json"))) == 2
    assert shards_y.manifest()["shard_count"] == 3
    assert_matches_truth("y", shards_y.dataset(), truth("y"))


def test_merge_state_is_a_union_and_splits_by_shard(tmp_path):
    def part(account, service, day):
        return {"context": {"account_id": account, "service_id": service},
                "replication_key": "date", "replication_key_value": day}

    accounts = [f"acct-{n}" for n in range(40)]
    old = [Shard(1, 2), Shard(2, 2)]
    states = [
        {"bookmarks": {"metrics": {"partitions": [
            part(a, f"svc-{a}", "2026-01-05") for a in accounts if shard.owns(a)]}}}
        for shard in old
    ]
    # The same partition in two states keeps the furthest bookmark.
    states[0]["bookmarks"]["metrics"]["partitions"].append(part("acct-x", "svc-x", "2026-01-02"))
    states[1]["bookmarks"]["metrics"]["partitions"].append(part("acct-x", "svc-x", "2026-01-04"))
    merged = merge_states(states)
    merged_parts = merged["bookmarks"]["metrics"]["partitions"]
    assert len(merged_parts) == len(accounts) + 1
    assert {p["replication_key_value"] for p in merged_parts
            if p["context"]["account_id"] == "acct-x"} == {"2026-01-04"}

    for count in (1, 3, 4, 7):
        split = [partitions(state_for_shard(merged, shard)) for shard in all_shards(count)]
        flat = [p for shard_parts in split for p in shard_parts]
        assert sorted(flat) == sorted(partitions(merged)), f"N=2 -> {count} lost or doubled"

    # The CLI does the same, reading `meltano state get` output and writing its shape.
    files = []
    for n, state in enumerate(states):
        path = tmp_path / f"state-{n}.json"
        path.write_text(json.dumps({"singer_state": state}))
        files.append(str(path))
    cli = subprocess.run(
        [sys.executable, "-m", "shardrun", "merge-state", "--shard", "2/3", "--meltano", *files],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    out = json.loads(cli.stdout)["singer_state"]
    assert partitions(out) == partitions(state_for_shard(merged, Shard(2, 3)))
    assert partitions(out), "shard 2/3 owns none of 40 accounts: the check proves nothing"
