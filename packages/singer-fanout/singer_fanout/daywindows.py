"""A day-keyed partition (one service's daily metrics) as request windows fetched concurrently.

The days due are split into the vendor's request windows (a day for a one-day-per-call
vendor, up to 31 days for another), each one step the engine may run beside the others.
The bookmark (the last day synced) only advances over the contiguous prefix of finished
windows: a backfill that fails or is killed at day 300 keeps days 1-299 bookmarked and
re-reads from day 300 on the next run.

Records of windows past a failed one are still written, not held: they are whole,
correct days, and holding them would only throw away work already done. The bookmark does
not cover them, so the next run reads them again (the same at-least-once re-read as the
lookback; downstream keeps the latest record per key).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from singer_sdk.streams import Stream

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


def split_days(first: dt.date, last: dt.date, max_days: int) -> list[DayWindow]:
    """The inclusive range [first, last] as windows of at most `max_days` days."""
    windows: list[DayWindow] = []
    start = first
    while start <= last:
        end = min(last, start + dt.timedelta(days=max_days - 1))
        windows.append(DayWindow(start, end, len(windows)))
        start = end + ONE_DAY
    return windows


FetchWindow = Callable[[Context, dt.date, dt.date], list[Record]]


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

    def run(self) -> StepResult:
        with partition_scope(self.stream, self.context):  # tags the requests' METRIC lines
            raw = self.fetch(self.context, self.window.first, self.window.last)
        return StepResult(finished_records(self.stream, self.context, raw))


class DayWindowPlan:
    """Windows of one partition, and a bookmark that covers their finished prefix only."""

    def __init__(
        self,
        *,
        stream: Stream,
        context: Context,
        book: PartitionStateBook,
        days: tuple[dt.date, dt.date] | None,
        max_window_days: int,
        fetch: FetchWindow,
        start: StartWindow | None = None,
    ) -> None:
        self._stream = stream
        self._context = context
        self._book = book
        self._windows = split_days(*days, max_window_days) if days else []
        self._fetch = fetch
        self._start = start
        self._done: set[int] = set()
        self._prefix = 0  # windows [0, _prefix) are all finished

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
        self._done.add(cast("WindowStep", step).window.index)
        advanced = False
        while self._prefix in self._done:
            self._done.discard(self._prefix)
            self._prefix += 1
            advanced = True
        if advanced:
            reached = self._windows[self._prefix - 1].last
            key = self._stream.replication_key
            assert key is not None
            self._book.advance(self._stream.name, self._context, key, reached.isoformat())
