"""Partition state: singer-sdk's shape, constant-time lookups, bookmarks never go backwards."""

from __future__ import annotations

import json

from singer_fanout.state import PartitionStateBook, StateEmitter


def test_reads_existing_sdk_shaped_state():
    state = {"bookmarks": {"metrics": {"partitions": [
        {"context": {"account_id": "a", "service_id": "s1"},
         "replication_key": "date", "replication_key_value": "2026-11-01"},
    ]}}}
    book = PartitionStateBook(state)
    assert book.bookmark("metrics", {"service_id": "s1", "account_id": "a"}) == "2026-11-01"
    assert book.bookmark("metrics", {"account_id": "a", "service_id": "s2"}) is None


def test_advance_creates_updates_and_never_moves_back():
    state: dict = {}
    book = PartitionStateBook(state)
    context = {"account_id": "a", "service_id": "s1"}
    book.advance("metrics", context, "date", "2026-11-10")
    book.advance("metrics", context, "date", "2026-11-05")
    assert book.bookmark("metrics", context) == "2026-11-10"
    partitions = state["bookmarks"]["metrics"]["partitions"]
    assert partitions == [{"context": context, "replication_key": "date",
                           "replication_key_value": "2026-11-10"}]


def test_state_is_linear_in_partitions():
    state: dict = {}
    book = PartitionStateBook(state)
    for n in range(5000):
        book.advance("metrics", {"account_id": "a", "service_id": f"s{n}"}, "date", "2026-11-24")
    size = len(json.dumps(state))
    assert book.partition_count("metrics") == 5000
    assert size < 5000 * 150  # about 120 bytes a partition


def test_emitter_writes_on_time_or_record_count_and_only_when_changed():
    clock = [0.0]
    written: list[int] = []
    emitter = StateEmitter(lambda s: written.append(1), {}, every_s=10, every_records=100,
                           clock=lambda: clock[0])
    emitter.maybe_write()
    assert written == []  # nothing changed
    emitter.changed(5)
    emitter.maybe_write()
    assert written == []  # not due yet
    emitter.changed(100)
    emitter.maybe_write()
    assert len(written) == 1  # due by records
    emitter.changed(1)
    clock[0] = 11
    emitter.maybe_write()
    assert len(written) == 2  # due by time
