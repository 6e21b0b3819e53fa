"""How far a run is and how long it has left, from what the fan-out has seen so far.

The total is not known at the start: the accounts listing finds the accounts, each services
listing finds services, each service is a metrics partition. Counting only the partitions
found so far gives a confident ETA that is far too small while listings are still running.
So the estimate is built per stream from what finished partitions cost and found:

- each stream's worker-seconds per partition (fetch time, including retries and rate-limit
  waits, so a throttled run estimates a throttled remainder). Short partitions finish first,
  so an average of the finished ones alone is too small, and counting the time of those in
  flight against the finished ones only is far too large while few have finished. So the
  cost is the worker-seconds spent on the stream (finished and in flight) per partition,
  a partition in flight counting as half done;
- each listing stream's average children per finished partition, by child stream, so a
  pending listing counts for the partitions it will probably find, and their cost;
- the remaining worker-seconds spread over the workers that can run at once.

While a stream with pending partitions has no finished partition to learn from, there is no
basis for an estimate and the progress line says so instead of guessing.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from singer_fanout.ratelimit import ScopeWait

# The remaining time of a partition in flight is its stream's average minus how long it has
# run, but never less than this share of the average (it is not done yet).
IN_FLIGHT_FLOOR = 0.1
# What a partition in flight counts for, in partitions done, when costing its stream.
IN_FLIGHT_CREDIT = 0.5


@dataclass
class _StreamWork:
    scheduled: int = 0
    finished: int = 0
    busy_s: float = 0.0
    children: Counter[str] = field(default_factory=Counter)
    lists_children: bool = False


@dataclass(frozen=True)
class _PerPartition:
    """What one more partition of a stream costs and finds, on average (descendants too)."""

    descendants: float
    work_s: float


@dataclass(frozen=True)
class Estimate:
    done: int
    known: int
    in_flight: int
    # Listings still to finish: the total will grow.
    discovering: bool
    # Partitions the pending listings should still find (when there is a basis for it).
    expected_more: int | None
    eta_s: float | None
    # A stream with partitions to go and none finished to learn from (no basis for an ETA).
    unmeasured: str | None = None


class WorkEstimator:
    """Thread-safe; the engine reports each partition scheduled, started and finished."""

    def __init__(self, concurrency: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._concurrency = max(1, concurrency)
        self._clock = clock
        self._lock = threading.Lock()
        self._streams: dict[str, _StreamWork] = {}
        self._running: dict[int, tuple[str, float]] = {}
        # Per stream, worker-seconds spent so far (finished and in flight), and partitions
        # done (one in flight counts half); both set by estimate().
        self._spent: dict[str, float] = {}
        self._credit: dict[str, float] = {}
        self._tickets = 0

    def scheduled(self, stream: str, *, lists_children: bool) -> None:
        with self._lock:
            work = self._streams.setdefault(stream, _StreamWork())
            work.scheduled += 1
            work.lists_children = work.lists_children or lists_children

    def started(self, stream: str) -> int:
        """A partition went to a worker; returns the ticket `finished` takes."""
        with self._lock:
            self._tickets += 1
            self._running[self._tickets] = (stream, self._clock())
            return self._tickets

    def finished(self, ticket: int, children: Mapping[str, int] | None = None) -> None:
        """The partition of `ticket` is done (ok or failed), having found `children`."""
        with self._lock:
            stream, started = self._running.pop(ticket)
            work = self._streams[stream]
            work.finished += 1
            work.busy_s += self._clock() - started
            work.children.update(children or {})

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._running)

    def estimate(self) -> Estimate:
        with self._lock:
            now = self._clock()
            done = sum(work.finished for work in self._streams.values())
            known = sum(work.scheduled for work in self._streams.values())
            pending = {name: work.scheduled - work.finished
                       for name, work in self._streams.items()}
            discovering = any(count > 0 and self._streams[name].lists_children
                              for name, count in pending.items())
            self._spent = {name: work.busy_s for name, work in self._streams.items()}
            self._credit = {name: float(work.finished) for name, work in self._streams.items()}
            for stream, started in self._running.values():
                self._spent[stream] += now - started
                self._credit[stream] += IN_FLIGHT_CREDIT
            costs: dict[str, _PerPartition | None] = {}
            expected_more = 0.0
            remaining_s = 0.0
            unmeasured = None
            for name, count in pending.items():
                if count <= 0:
                    continue
                cost = self._per_partition(name, costs, set())
                if cost is None:
                    unmeasured = self._unmeasured(name)
                    break
                expected_more += count * cost.descendants
                remaining_s += count * cost.work_s
            if unmeasured is None:
                remaining_s -= self._in_flight_progress(now, costs)
            in_flight = len(self._running)
        if unmeasured is not None:
            return Estimate(done, known, in_flight, discovering, None, None, unmeasured)
        outstanding = sum(max(count, 0) for count in pending.values()) + expected_more
        workers = min(self._concurrency, max(outstanding, 1.0))
        return Estimate(done, known, in_flight, discovering, round(expected_more),
                        max(remaining_s, 0.0) / workers)

    def _in_flight_progress(self, now: float, costs: Mapping[str, _PerPartition | None]) -> float:
        """Worker-seconds the partitions in flight have already put in (at most most of their
        stream's cost: one that runs long is not done yet either)."""
        progress = 0.0
        for stream, started in self._running.values():
            work = self._streams[stream]
            cost = self._spent[stream] / self._credit[stream] if work.finished else 0.0
            progress += min(now - started, cost * (1 - IN_FLIGHT_FLOOR))
        return progress

    def _unmeasured(self, name: str) -> str:
        """The first stream below `name` (or itself) with no finished partition."""
        work = self._streams.get(name)
        if work is None or work.finished == 0:
            return name
        for child in work.children:
            if self._per_partition(child, {}, set()) is None:
                return self._unmeasured(child)
        return name

    def _per_partition(
        self, name: str, memo: dict[str, _PerPartition | None], visiting: set[str]
    ) -> _PerPartition | None:
        if name in memo:
            return memo[name]
        work = self._streams.get(name)
        if work is None or work.finished == 0 or name in visiting:
            return None
        visiting.add(name)
        descendants, work_s = 0.0, self._spent[name] / self._credit[name]
        for child, found in work.children.items():
            per_child = self._per_partition(child, memo, visiting)
            if per_child is None:
                memo[name] = None
                return None
            share = found / work.finished
            descendants += share * (1 + per_child.descendants)
            work_s += share * per_child.work_s
        memo[name] = _PerPartition(descendants, work_s)
        return memo[name]


# At most this many rate-limit scopes are named in one progress line.
MAX_SCOPES_NAMED = 3


def describe_partitions(estimate: Estimate, failed: int) -> str:
    """`42/87 partitions done (1 failed)`, with a `+` and what is expected while listings run."""
    if not estimate.discovering:
        return f"{estimate.done}/{estimate.known} partitions done ({failed} failed)"
    expected = ("" if estimate.expected_more is None
                else f" (~{estimate.known + estimate.expected_more} expected)")
    return f"{estimate.done}/{estimate.known}+ partitions done{expected} ({failed} failed)"


def describe_eta(estimate: Estimate) -> str:
    if estimate.eta_s is None:
        waiting_for = f"no '{estimate.unmeasured}' partition has finished yet"
        if estimate.discovering:
            return f"ETA unknown: listings are still discovering partitions, {waiting_for}"
        return f"ETA unknown: {waiting_for}"
    if estimate.discovering:
        return (f"ETA ~{estimate.eta_s:.0f}s (estimated from what the listings found so far; "
                "they are still running)")
    return f"ETA ~{estimate.eta_s:.0f}s"


def describe_retries(total: int, since_last: Mapping[str, int]) -> str:
    """`17 retries (5 since the last line: 3 HTTP 503, 2 timeout)`."""
    recent = sum(since_last.values())
    if not recent:
        return f"{total} retries"
    causes = ", ".join(f"{count} {cause}" for cause, count in since_last.items())
    return f"{total} retries ({recent} since the last line: {causes})"


def describe_causes(total: int, by_cause: Mapping[str, int]) -> str:
    """`17 retries (10 HTTP 503, 7 timeout)` for the summary."""
    if not by_cause:
        return f"{total} retries"
    return f"{total} retries (" + ", ".join(f"{n} {cause}" for cause, n in by_cause.items()) + ")"


def describe_waits(waits: list[ScopeWait], wall_now: dt.datetime) -> str:
    """`waiting on rate limits: org:o-1 until 10:31:05 UTC (3 requests held), ...`."""
    if not waits:
        return ""
    named = [
        f"{wait.scope} until "
        f"{(wall_now + dt.timedelta(seconds=wait.wait_s)).strftime('%H:%M:%S')} UTC "
        f"({wait.waiting} request{'s' if wait.waiting != 1 else ''} held)"
        for wait in waits[:MAX_SCOPES_NAMED]
    ]
    more = len(waits) - MAX_SCOPES_NAMED
    if more > 0:
        named.append(f"and {more} more scope{'s' if more != 1 else ''}")
    return "; waiting on rate limits: " + ", ".join(named)
