"""Partition bookmarks with constant-time lookup, and STATE written at a bounded rate.

The state keeps singer-sdk's shape, so Meltano and any singer-sdk tap read it:

    {"bookmarks": {"metrics": {"partitions": [
        {"context": {"account_id": "a1", "service_id": "s1"},
         "replication_key": "date", "replication_key_value": "2026-11-24"}]}}}

singer-sdk finds a partition by scanning that list and writes the whole state after every
partition, which is quadratic in partitions. Here an index over the same dicts makes lookups
O(1), and `StateEmitter` writes the state far less often (see its docstring): every STATE is
the whole state, so how often it goes out decides a run's total STATE bytes.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

# (key1, value1, key2, value2, ...) by key: one flat tuple, not a tuple of pairs, because
# one is held per partition (a third of the bytes at 100,000 services).
PartitionKey = tuple[Any, ...]
# Distinct values held once per state key (a key whose values never repeat, like a service
# id, stops being looked up once this many were seen).
SHARED_VALUES = 4096


def partition_key(context: Mapping[str, Any]) -> PartitionKey:
    return tuple(itertools.chain.from_iterable(sorted(context.items())))


class SharedValues:
    """One object for each value many partitions repeat, by the key it is stored under.

    A state of 100,000 partitions repeats a few bookmark days, the same `replication_key`,
    a few hundred account ids and a few lists of unsettled days; parsed or built one
    partition at a time, each entry would hold its own copy (~0.3 KB a partition). Strings
    and non-empty lists of strings are shared; a shared list is never changed in place (a
    partition's entry gets a new list when its days change).
    """

    def __init__(self, per_key: int = SHARED_VALUES) -> None:
        self._per_key = per_key
        self._by_key: dict[str, dict[Any, Any]] = {}
        self._full: set[str] = set()  # keys whose values do not repeat enough to share

    def share(self, key: str, value: Any) -> Any:
        if key in self._full:
            return value
        if isinstance(value, str):
            lookup: Any = value
        elif isinstance(value, list) and value and all(isinstance(i, str) for i in value):
            lookup = tuple(value)
        else:
            return value
        cache = self._by_key.setdefault(key, {})
        held = cache.get(lookup)
        if held is not None:
            return held
        if len(cache) >= self._per_key:
            self._full.add(key)
        else:
            cache[lookup] = value
        return value

    def share_in(self, mapping: dict[str, Any]) -> dict[str, Any]:
        """`mapping` with its repeated values replaced by the shared ones (a JSON
        `object_hook`: every object of a state as it is parsed)."""
        for key, value in mapping.items():
            mapping[key] = self.share(key, value)
        return mapping


class PartitionStateBook:
    """Reads and advances per-partition bookmarks inside a singer-sdk-shaped state dict."""

    def __init__(self, tap_state: dict[str, Any]) -> None:
        self.state = tap_state
        self._index: dict[str, dict[PartitionKey, dict[str, Any]]] = {}
        # The entries (by id) whose bookmark moved since the last STATE: what a run killed
        # now would re-do. Cleared by `written()`, so it holds at most one write's worth.
        self._moved: set[int] = set()
        # Most partitions share a few bookmark values (yesterday) and unsettled-day lists:
        # held once, not per entry.
        self.shared = SharedValues()

    def bookmark(self, stream: str, context: Mapping[str, Any]) -> Any:
        entry = self._partitions(stream).get(partition_key(context))
        return None if entry is None else entry.get("replication_key_value")

    def advance(
        self, stream: str, context: Mapping[str, Any], replication_key: str, value: Any
    ) -> None:
        """Move the partition's bookmark to `value`; a bookmark never moves backwards."""
        index = self._partitions(stream)
        key = partition_key(context)
        entry = index.get(key)
        if entry is None:
            entry = {"context": dict(context)}
            self._stream_state(stream).setdefault("partitions", []).append(entry)
            index[key] = entry
        current = entry.get("replication_key_value")
        if current is None or value > current:
            entry["replication_key"] = replication_key
            entry["replication_key_value"] = self.shared.share("replication_key_value", value)
            self._moved.add(id(entry))

    def entry(self, stream: str, context: Mapping[str, Any]) -> dict[str, Any] | None:
        """The partition's entry (its bookmark and any keys the kit keeps beside it)."""
        return self._partitions(stream).get(partition_key(context))

    def entry_changed(self, entry: dict[str, Any]) -> None:
        """Keys beside the bookmark changed: the entry moved, as an advance does."""
        self._moved.add(id(entry))

    def contexts(self, stream: str) -> Iterator[Mapping[str, Any]]:
        """The context of every partition the state holds for `stream` (the entries' own:
        read them, do not change them; a copy of each would be ~20 MB at 100,000)."""
        for entry in self._partitions(stream).values():
            yield entry.get("context", {})

    def forget(self, stream: str, contexts: list[Mapping[str, Any]]) -> None:
        """Drop these partitions' bookmarks (the vendor no longer lists them)."""
        index = self._partitions(stream)
        gone = {id(index.pop(partition_key(context))) for context in contexts
                if partition_key(context) in index}
        stream_state = self._stream_state(stream)
        stream_state["partitions"] = [entry for entry in stream_state.get("partitions", [])
                                      if id(entry) not in gone]

    def partition_count(self, stream: str) -> int:
        return len(self._partitions(stream))

    @property
    def partitions(self) -> int:
        """Partitions in the state, all streams: what one STATE's size is proportional to."""
        bookmarks = self.state.get("bookmarks", {})
        return sum(len(self._partitions(stream)) for stream in bookmarks)

    @property
    def moved_since_written(self) -> int:
        """Partitions whose bookmark moved since the last STATE (each counted once)."""
        return len(self._moved)

    def written(self) -> None:
        self._moved.clear()

    def _stream_state(self, stream: str) -> dict[str, Any]:
        bookmarks: dict[str, Any] = self.state.setdefault("bookmarks", {})
        stream_state: dict[str, Any] = bookmarks.setdefault(stream, {})
        return stream_state

    def _partitions(self, stream: str) -> dict[PartitionKey, dict[str, Any]]:
        index = self._index.get(stream)
        if index is None:
            # Built once per stream from whatever state the run started with.
            entries = self._stream_state(stream).get("partitions", [])
            index = {partition_key(entry.get("context", {})): entry for entry in entries}
            self._index[stream] = index
        return index


class StateEmitter:
    """Writes STATE when it changed and enough time, records and partitions have passed.

    Every STATE is the whole state, so a policy of "every `every_s` seconds" makes a run's
    STATE bytes grow with the run's length times the state's size: at 100,000 partitions
    (12.5 MB a STATE) a 3-hour rate-limited run would write ~1,000 of them, 12 GB. With
    `redo_share` (0 < share <= 1) a STATE waits, besides the time (or record) interval, until
    at least that share of the state's partitions moved since the previous one. Each STATE
    then pays for `redo_share` x the partitions in it, so a run's STATE bytes stay within
    about 1 / `redo_share` times its final state (8x at 1/8), however long it runs, and a
    run killed without warning re-does at most the larger of: that share of the partitions,
    or the last `every_s` seconds of work. A small state (fewer partitions than
    1 / `redo_share`) goes out on time, as before. `redo_share` 0 keeps the time policy.
    A STATE is always written at the end and on SIGTERM / SIGINT (the tap does that).
    """

    def __init__(
        self,
        write: Callable[[dict[str, Any]], None],
        state: dict[str, Any],
        *,
        every_s: float,
        every_records: int,
        redo_share: float = 0.0,
        book: PartitionStateBook | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write
        self._state = state
        self._every_s = every_s
        self._every_records = every_records
        self._redo_share = redo_share
        self._book = book
        self._clock = clock
        self._last_write = clock()
        self._records_since = 0
        self._dirty = False

    def changed(self, records: int) -> None:
        """Bookmarks moved after `records` more records were emitted."""
        self._dirty = True
        self._records_since += records

    def maybe_write(self) -> None:
        if not self._dirty:
            return
        due_by_time = self._clock() - self._last_write >= self._every_s
        if (due_by_time or self._records_since >= self._every_records) and self._worth_it():
            self.write_now()

    def _worth_it(self) -> bool:
        """Enough partitions moved that a whole STATE is worth its bytes."""
        if self._book is None or self._redo_share <= 0:
            return True
        return self._book.moved_since_written >= self._redo_share * self._book.partitions

    def write_now(self) -> None:
        self._write(self._state)
        if self._book is not None:
            self._book.written()
        self._dirty = False
        self._records_since = 0
        self._last_write = self._clock()
