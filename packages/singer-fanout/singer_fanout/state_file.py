"""Reading the `--state` file: what can be used, what is ignored, and what stops the run.

singer-sdk reads the state with no checks: a corrupt file is a traceback, `partitions` as a
dict a crash deep in the sync, a bookmark of the wrong type a crash when the window is
planned, and another tap's bookmarks are silently accepted. Here the state is checked once,
before anything is requested, against the tap's own streams:

- unusable (exit 2, naming the file and the problem): not JSON, empty, not an object, a
  known stream or partition of the wrong shape, a bookmark that is not a UTC day, days not
  final yet (`unsettled`) or a last day (`ends`) that do not read as days, a state written
  by another tap, or bookmarks none of which belong to this tap's streams;
- ignored with a warning: streams this tap does not have, partitions whose context keys
  are not the stream's (another stream's or tap's partitions);
- Meltano's wrapped form `{"singer_state": {...}}` (what `meltano state get` prints) is
  unwrapped, with an info line;
- a bookmark after today is kept, with a warning per partition (nothing is read for it
  until the day passes).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from singer_fanout.dates import parse_day
from singer_fanout.finality import ENDS_KEY, UNSETTLED_KEY, unreadable_days
from singer_fanout.state import SharedValues

# Top-level key the taps add to the STATE they write, so a state given to the wrong tap is
# recognised (both taps have the same stream names and context keys).
WRITTEN_BY = "written_by"
MELTANO_WRAPPER = "singer_state"


class UnusableState(Exception):
    """The state file cannot be used as it is; the run stops before any request."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"state file {source}: {problem}")


@dataclass(frozen=True)
class StreamShape:
    """What a stream's state may hold: partitions with these context keys, this bookmark."""

    context_keys: tuple[str, ...]
    replication_key: str | None


@dataclass
class CheckedState:
    state: dict[str, Any]
    notes: list[tuple[int, str]] = field(default_factory=list)  # (log level, message)
    ignored: int = 0  # streams and partitions left out


def check_state(
    text: str,
    source: str,
    *,
    tap_name: str,
    streams: Mapping[str, StreamShape],
    today: dt.date,
) -> CheckedState:
    """The state to start from, and what to log about it; UnusableState when there is none."""
    return _Checker(source, tap_name, streams, today).check(text)


@dataclass
class _Checker:
    source: str
    tap_name: str
    streams: Mapping[str, StreamShape]
    today: dt.date
    result: CheckedState = field(default_factory=lambda: CheckedState({}))

    def unusable(self, problem: str) -> UnusableState:
        return UnusableState(self.source, problem)

    def note(self, level: int, message: str) -> None:
        self.result.notes.append((level, f"state file {self.source}: {message}"))

    def check(self, text: str) -> CheckedState:
        if not text.strip():
            raise self.unusable("is empty (to start without state, leave --state out or give "
                                "a file containing {})")
        try:
            # Values many partitions repeat are held once from the start (see SharedValues).
            state = json.loads(text, object_hook=SharedValues().share_in)
        except ValueError as error:
            raise self.unusable(f"is not valid JSON ({error})") from None
        except RecursionError:
            raise self.unusable("is not usable JSON (nested too deeply)") from None
        if isinstance(state, dict) and MELTANO_WRAPPER in state and "bookmarks" not in state:
            self.note(logging.INFO, f'unwrapped Meltano\'s {{"{MELTANO_WRAPPER}": ...}} form')
            state = state[MELTANO_WRAPPER]
        if not isinstance(state, dict):
            raise self.unusable(f"should be a JSON object, got {_kind(state)}")
        writer = state.get(WRITTEN_BY)
        if writer is not None and writer != self.tap_name:
            raise self.unusable(f"was written by {writer}, not {self.tap_name}: give each tap "
                                "its own state")
        bookmarks = state.get("bookmarks", {})
        if not isinstance(bookmarks, dict):
            raise self.unusable(f"'bookmarks' should be an object, got {_kind(bookmarks)}")
        foreign = sorted(name for name in bookmarks if name not in self.streams)
        if foreign:
            self.result.ignored += len(foreign)
            self.note(logging.WARNING, f"ignoring bookmarks of streams {self.tap_name} does "
                      f"not have: {', '.join(foreign)}")
        kept = {name: self._stream(bookmarks[name], name, shape)
                for name, shape in self.streams.items() if name in bookmarks}
        if self.result.ignored and not any(stream.get("partitions") for stream in kept.values()):
            raise self.unusable(f"none of its bookmarks belong to {self.tap_name}'s streams "
                                f"({', '.join(self.streams)}): is it another tap's state?")
        self.result.state = {**{k: v for k, v in state.items() if k != "bookmarks"},
                             "bookmarks": kept}
        return self.result

    def _stream(self, stream_state: Any, name: str, shape: StreamShape) -> dict[str, Any]:
        where = f"bookmarks.{name}"
        if not isinstance(stream_state, dict):
            raise self.unusable(f"'{where}' should be an object, got {_kind(stream_state)}")
        partitions = stream_state.get("partitions", [])
        if not isinstance(partitions, list):
            raise self.unusable(f"'{where}.partitions' should be a list of partitions, got "
                                f"{_kind(partitions)}")
        kept, ignored = [], 0
        for position, entry in enumerate(partitions):
            at = f"{where}.partitions[{position}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("context"), dict):
                raise self.unusable(f"'{at}' should be an object with a 'context' object, got "
                                    f"{json.dumps(entry)[:200]}")
            key = entry.get("replication_key")
            if sorted(entry["context"]) != sorted(shape.context_keys) or (
                key is not None and key != shape.replication_key
            ):
                ignored += 1
                continue
            self._bookmark(entry, at, shape)
            kept.append(entry)
        if ignored:
            self.result.ignored += ignored
            self.note(logging.WARNING, f"ignoring {ignored} partition(s) of '{where}' that are "
                      f"not this stream's (its partitions have context keys "
                      f"{', '.join(shape.context_keys) or 'none'} and bookmark "
                      f"{shape.replication_key or 'none'})")
        if "partitions" not in stream_state:
            return stream_state
        return {**stream_state, "partitions": kept}

    def _bookmark(self, entry: dict[str, Any], at: str, shape: StreamShape) -> None:
        ids = " ".join(f"{k}={v}" for k, v in sorted(entry["context"].items()))
        self._finality(entry, at, ids)
        value = entry.get("replication_key_value")
        if value is None or shape.replication_key is None:
            return
        try:
            day = parse_day(value) if isinstance(value, str) else None
        except ValueError:
            day = None
        if day is None:
            raise self.unusable(f"'{at}' ({ids}): the bookmark should be a UTC day "
                                f"(YYYY-MM-DD), got {_kind(value)} {json.dumps(value)}")
        if day > self.today:
            self.note(logging.WARNING, f"{ids}: the bookmark {value} is in the future (today is "
                      f"{self.today}); nothing is read for this partition until that day has "
                      "passed")

    def _finality(self, entry: dict[str, Any], at: str, ids: str) -> None:
        """The keys the kit keeps beside the bookmark (see finality.py), read at plan time."""
        if UNSETTLED_KEY in entry:
            problem = unreadable_days(entry[UNSETTLED_KEY])
            if problem:
                raise self.unusable(f"'{at}' ({ids}): '{UNSETTLED_KEY}' (the days not final "
                                    f"yet) {problem}; expected UTC days YYYY-MM-DD or ranges "
                                    "YYYY-MM-DD/YYYY-MM-DD")
        if ENDS_KEY in entry:
            value = entry[ENDS_KEY]
            try:
                dt.date.fromisoformat(value if isinstance(value, str) else "")
            except ValueError:
                raise self.unusable(f"'{at}' ({ids}): '{ENDS_KEY}' (the service's last day) "
                                    f"should be a UTC day (YYYY-MM-DD), got {_kind(value)} "
                                    f"{json.dumps(value)[:80]}") from None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")
