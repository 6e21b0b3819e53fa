"""Partition state: singer-sdk's shape, constant-time lookups, bookmarks never go backwards."""

from __future__ import annotations

import datetime as dt
import json

from singer_fanout.state import PartitionStateBook, StateEmitter
from singer_fanout.state_file import StreamShape, check_state


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


def test_a_state_file_holds_values_partitions_repeat_once_and_reads_the_same():
    """100,000 partitions repeat a few accounts, bookmark days and unsettled-day lists:
    parsed, each is held once (what keeps an incremental run at scale small), and the state
    is the same JSON."""
    partitions = [{"context": {"account_id": f"a{n % 3}", "service_id": f"s{n}"},
                   "replication_key": "date", "replication_key_value": "2026-11-24",
                   "unsettled": ["2026-11-02", "2026-11-22/2026-11-24"]} for n in range(300)]
    original = {"written_by": "tap-x", "bookmarks": {
        "metrics": {"partitions": partitions}, "services": {"partitions": []},
        "accounts": {"partitions": []}}}
    shapes = {"metrics": StreamShape(("account_id", "service_id"), "date"),
              "services": StreamShape(("account_id",), None),
              "accounts": StreamShape((), None)}
    checked = check_state(json.dumps(original), "state.json", tap_name="tap-x", streams=shapes,
                          today=dt.date(2026, 11, 25))
    assert json.dumps(checked.state, sort_keys=True) == json.dumps(original, sort_keys=True)
    entries = checked.state["bookmarks"]["metrics"]["partitions"]
    first, other = entries[0], entries[3]  # same account
    assert first["context"]["account_id"] is other["context"]["account_id"]
    for key in ("replication_key", "replication_key_value", "unsettled"):
        assert first[key] is other[key], key
    # Empty lists are never shared: a stream's partitions list grows in place.
    bookmarks = checked.state["bookmarks"]
    assert bookmarks["services"]["partitions"] is not bookmarks["accounts"]["partitions"]
    book = PartitionStateBook(checked.state)
    book.advance("services", {"account_id": "a1"}, "date", "2026-11-24")
    assert bookmarks["accounts"]["partitions"] == []
