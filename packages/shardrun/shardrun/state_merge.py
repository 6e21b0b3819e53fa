"""Carrying state across a change of shard count.

A fan-out tap's state is keyed by partition context (singer-sdk's shape, see
`singer_fanout.state`), and a partition belongs to the shard that owns its account. So states of
disjoint shards merge by a plain union of partitions, and the union splits for a new
count by asking each new shard which accounts it owns. Nothing is re-read that was synced,
and nothing is skipped that was not.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from singer_fanout.settings import Shard
from singer_fanout.state import partition_key

# The context key shards are assigned by (singer_fanout's child-context contract).
SHARD_KEY = "account_id"
# Stream-level keys that describe one run in progress, not a bookmark to carry over.
TRANSIENT_KEYS = ("progress_markers",)


def merge_states(states: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The union of the states' partitions, per stream.

    A partition found in several states (overlapping runs) keeps the furthest bookmark:
    a bookmark only ever moves forward, and the data up to it was written by the run that
    moved it. Anything else in a stream's state is kept from the first state that has it.
    """
    merged: dict[str, Any] = {"bookmarks": {}}
    index: dict[str, dict[Any, dict[str, Any]]] = {}
    for state in states:
        for stream, stream_state in (state.get("bookmarks") or {}).items():
            target = merged["bookmarks"].setdefault(stream, {})
            for key, value in stream_state.items():
                if key != "partitions" and key not in TRANSIENT_KEYS:
                    target.setdefault(key, copy.deepcopy(value))
            seen = index.setdefault(stream, {})
            for partition in stream_state.get("partitions") or []:
                _merge_partition(target, seen, partition)
    return merged


def _merge_partition(
    stream_state: dict[str, Any], seen: dict[Any, dict[str, Any]], partition: dict[str, Any]
) -> None:
    key = partition_key(partition.get("context") or {})
    current = seen.get(key)
    if current is None:
        entry = copy.deepcopy(partition)
        stream_state.setdefault("partitions", []).append(entry)
        seen[key] = entry
        return
    value, held = partition.get("replication_key_value"), current.get("replication_key_value")
    if value is not None and (held is None or value > held):
        current.update(copy.deepcopy(partition))


def state_for_shard(state: dict[str, Any], shard: Shard) -> dict[str, Any]:
    """Only the partitions of accounts that `shard` owns.

    A partition without an account in its context cannot be assigned, so every shard
    keeps it (a bookmark a shard never uses costs nothing; a lost one re-reads history).
    """
    result = copy.deepcopy(state)
    for stream_state in (result.get("bookmarks") or {}).values():
        if "partitions" in stream_state:
            stream_state["partitions"] = [
                partition for partition in stream_state["partitions"]
                if SHARD_KEY not in (partition.get("context") or {})
                or shard.owns(str(partition["context"][SHARD_KEY]))
            ]
    return result
