"""N shards side by side land exactly the dataset one unsharded run would: the truth."""

from __future__ import annotations

from collections import Counter

import pytest

from shardrun.jobs import all_shards
from tests.finality_reads import last_days
from tests.shardrun.conftest import (
    FIRST_DAY,
    LAST_DAY,
    Shards,
    partitions,
    run_token,
    services_by_account,
    truth,
    world,
)
from tests.truth import assert_matches_truth
from vendor_sandbox import run_sandbox


@pytest.mark.parametrize("vendor", ["x", "y"])
def test_three_shards_together_equal_the_truth(vendor, tmp_path):
    with run_sandbox(world(vendor)) as sandbox:
        shards = Shards(tmp_path, vendor, sandbox.url)
        run = shards.run(3)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]

    dataset = shards.dataset()
    assert_matches_truth(vendor, dataset, truth(vendor))
    # Disjoint shards: every key landed once, not once per shard that saw it.
    for stream, keys in (("accounts", ("account_id",)),
                         ("services", ("account_id", "service_id")),
                         ("metrics", ("account_id", "service_id", "date"))):
        counts = Counter(tuple(row[k] for k in keys) for row in dataset[stream])
        assert counts, f"{stream}: nothing landed"
        assert max(counts.values()) == 1, f"{stream}: a key landed twice"

    # Each shard's state holds its own accounts' services and nothing else, and together
    # they hold every service once.
    services = services_by_account(vendor)
    last_bookmarks = last_days(vendor, dataset["services"], FIRST_DAY, LAST_DAY.isoformat())
    held: list[tuple[str, str]] = []
    for shard in all_shards(3):
        state = shards.state(shard)
        assert state is not None
        mine = partitions(state)
        assert mine, f"shard {shard} synced nothing: the split proves nothing"
        assert all(shard.owns(account) for account, _ in mine)
        # Each bookmark is the last day the service had to sync: LAST_DAY, or a deleted
        # VendorX service's deletion day.
        assert {(p["context"]["account_id"], p["context"]["service_id"]): p["replication_key_value"]
                for p in state["bookmarks"]["metrics"]["partitions"]} == {
            key: day for key, day in last_bookmarks.items() if shard.owns(key[0])}
        held += mine
    assert sorted(held) == sorted((a, s) for a, ss in services.items() for s in ss)

    # One target per shard wrote side by side in one destination: three run tokens.
    tokens = {run_token(name) for name in shards.files()}
    assert len(tokens) == 3
    manifest = shards.manifest()
    assert manifest["shard_count"] == 3
    assert {entry["status"] for entry in manifest["shards"].values()} == {"ok"}
    # Each shard reports its own summary.
    assert all(entry["summary"]["outcome"] == "success" for entry in manifest["shards"].values())
