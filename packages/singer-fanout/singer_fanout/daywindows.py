"""A day-keyed partition (one service's daily metrics) as request windows fetched concurrently.

The days due (see `finality.py`) are split into the vendor's request windows (a day for a
one-day-per-call vendor, up to 31 days for another), each one step the engine may run beside
the others. The bookmark (the last day synced) only advances over the contiguous prefix of
finished windows past it: a backfill that fails or is killed at day 300 keeps days 1-299
bookmarked and re-reads from day 300 on the next run. Days re-read because they were not
final yet are settled window by window, whatever the other windows do.

Records of windows past a failed one are still written, not held: they are whole, correct
days, and holding them would only throw away work already done. The bookmark does not cover
them, so the next run reads them again (at least once; downstream keeps the latest record
per key).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from singer_sdk.streams import Stream

from singer_fanout.finality import (
    ENDS_KEY,
    UNSETTLED_KEY,
    DuePlan,
    Lifetime,
    encode_days,
    runs_of_days,
)
from singer_fanout.metrics import partition_scope
from singer_fanout.state import PartitionStateBook
from singer_fanout.steps import Record, Step, StepResult, finished_records

Context = Mapping[str, Any]
ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class DayWindow:
    """Inclusive UTC days [first, last] asked for in one request (or one run of requests)."""

    first: dt.date
    last: dt.date
    index: int  # position among the partition's windows, oldest first

    def days(self) -> set[dt.date]:
        return {self.first + dt.timedelta(days=n) for n in range((self.last - self.first).days + 1)}


@dataclass
class WindowAnswer:
    """What the vendor said about one window: its records, and its days not final yet.

    `unsettled` holds every day of the window the vendor may still change: days whose
    records it marks as not final, and days with data still to come but no record yet.
    """

    records: list[Record]
    unsettled: set[dt.date] = field(default_factory=set)


@dataclass
class WindowResult(StepResult):
    unsettled: set[dt.date] = field(default_factory=set)


FetchWindow = Callable[[Context, dt.date, dt.date], WindowAnswer]


class WindowStep(Step, Protocol):
    """A step of one window: the window's own step, or a follow-up of it."""

    @property
    def window(self) -> DayWindow: ...


# Builds a window's first step when fetching it is more than one request-and-answer (a
# report job: submit, then polls); the step and its follow-ups carry `window`.
StartWindow = Callable[[DayWindow], WindowStep]


@dataclass(frozen=True)
class DayWindowStep:
    """One window of one partition: the stream's `fetch_window`, post-processed, in a worker."""

    stream: Stream
    context: Context
    window: DayWindow
    fetch: FetchWindow

    def run(self) -> WindowResult:
        with partition_scope(self.stream, self.context):  # tags the requests' METRIC lines
            answer = self.fetch(self.context, self.window.first, self.window.last)
        records = finished_records(self.stream, self.context, answer.records)
        return WindowResult(records, unsettled=answer.unsettled & self.window.days())


class DayWindowPlan:
    """Windows of one partition; its bookmark and unsettled days move as they finish.

    Either `due` (the days a finality-aware stream planned, see `finality.py`) or `days`
    (one inclusive range, for a stream that re-reads a fixed lookback; no unsettled days
    are tracked then).
    """

    def __init__(
        self,
        *,
        stream: Stream,
        context: Context,
        book: PartitionStateBook,
        max_window_days: int,
        fetch: Callable[[Context, dt.date, dt.date], Any],
        due: DuePlan | None = None,
        days: tuple[dt.date, dt.date] | None = None,
        lifetime: Lifetime | None = None,
        start: StartWindow | None = None,
    ) -> None:
        self._stream = stream
        self._context = context
        self._book = book
        self._tracks_finality = due is not None
        if due is None:
            bookmark = book.bookmark(stream.name, context)
            due = DuePlan(days=_range(days) if days else [],
                          bookmark=dt.date.fromisoformat(str(bookmark)[:10]) if bookmark
                          else None, unsettled=set(), ends=None)
        self._due = due
        self._lifetime = lifetime or Lifetime()
        self._fetch = fetch
        self._start = start
        self._windows = [DayWindow(first, last, index) for index, (first, last)
                         in enumerate(runs_of_days(due.days, max_window_days))]
        old = due.bookmark
        # Windows reaching past the bookmark move it, in order; the others only settle days.
        self._new = [w.index for w in self._windows if old is None or w.last > old]
        self._prefix = 0  # self._new[:_prefix] are finished
        self._finished_new: dict[int, WindowResult] = {}
        self._unsettled = set(due.unsettled)
        self._last_seen: dt.date | None = None  # latest new day with data or data to come

    @property
    def windows(self) -> list[DayWindow]:
        return self._windows

    def steps(self) -> Sequence[Step]:
        if self._start is not None:
            return [self._start(window) for window in self._windows]
        return [DayWindowStep(self._stream, self._context, window, self._fetch)
                for window in self._windows]

    def step_done(self, step: Step, result: StepResult) -> None:
        if result.then:
            return  # the window goes on in its follow-up steps (a report still pending)
        window = cast("WindowStep", step).window
        unsettled: set[dt.date] = getattr(result, "unsettled", set())
        old = self._due.bookmark
        if old is not None and window.first <= old:
            # Days up to the old bookmark: settled now, or still not final.
            settled = {day for day in window.days() if day <= old}
            self._unsettled -= settled
            self._unsettled |= {day for day in unsettled if day <= old}
        if window.index in self._new:
            self._finished_new[window.index] = WindowResult(result.records, unsettled=unsettled)
        reached = None
        while self._prefix < len(self._new) and self._new[self._prefix] in self._finished_new:
            index = self._new[self._prefix]
            finished = self._finished_new.pop(index)
            new_days = {d for d in self._windows[index].days() if old is None or d > old}
            self._unsettled |= finished.unsettled & new_days
            self._see(finished, new_days)
            reached = self._windows[index].last
            self._prefix += 1
        key = self._stream.replication_key
        assert key is not None
        if reached is not None:
            self._book.advance(self._stream.name, self._context, key, reached.isoformat())
        entry = self._book.entry(self._stream.name, self._context)
        if entry is None or not self._tracks_finality:
            return  # nothing bookmarked yet, or a stream that re-reads a fixed lookback
        still_open = encode_days(self._unsettled)
        if entry.get(UNSETTLED_KEY) != still_open:
            entry[UNSETTLED_KEY] = self._book.shared.share(UNSETTLED_KEY, still_open)
            self._book.entry_changed(entry)
        if self._prefix == len(self._new) and self._lifetime.gone and self._new:
            self._note_end(entry)

    def _see(self, finished: WindowResult, new_days: set[dt.date]) -> None:
        seen = {r_day for r_day in (_day_of(r) for r in finished.records) if r_day in new_days}
        seen |= finished.unsettled & new_days
        if seen:
            latest = max(seen)
            self._last_seen = latest if self._last_seen is None else max(self._last_seen,
                                                                          latest)

    def _note_end(self, entry: dict[str, Any]) -> None:
        """A gone service whose record does not say when: remember its last possible day.

        If the days after its last data were all empty, it ended by then; if it had data up
        to the last day read, it ended at the latest today (when the run saw it gone).
        """
        if self._lifetime.ended is not None:
            return
        last_read = self._windows[self._new[-1]].last
        if self._last_seen is not None and self._last_seen >= last_read:
            end = self._due.ends
        else:
            first_read = self._windows[self._new[0]].first
            end = self._last_seen or self._due.bookmark or first_read - ONE_DAY
        if end is not None:
            entry[ENDS_KEY] = end.isoformat()


def _range(days: tuple[dt.date, dt.date]) -> list[dt.date]:
    first, last = days
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def _day_of(record: Record) -> dt.date | None:
    value = record.get("date")
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None
