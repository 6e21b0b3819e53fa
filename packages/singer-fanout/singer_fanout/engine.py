"""Concurrent fan-out of partitions, each one isolated from the others' failures.

singer-sdk syncs child partitions one at a time and lets one exception end the run. Here a
partition (a stream plus its context: the accounts list, one account's services, one
service's metrics) is fetched whole by a worker thread; the main thread then emits its
records, advances its bookmark and schedules its children. So:

- HTTP runs in up to `max_concurrency` workers; every Singer message is written by the main
  thread, so SCHEMA precedes RECORD and a STATE never covers records not yet written.
- A partition that fails emits nothing and keeps its bookmark; the others go on.
- Deeper partitions are scheduled first (metrics before more service listings), so what is
  waiting in memory stays bounded by the work in flight, not by the size of the account.
- One run emits a listing's key at most once and schedules a partition at most once: a
  page-numbered listing that shifts while it is read (an account created mid-run) repeats an
  item on the next page, which must not sync that account twice.
- A credential the vendor stops accepting mid-run ends the run (exit 2) at the first
  partition that sees it: the HTTP client tells it from one account's missing permission.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter, deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from singer_sdk.streams import Stream

from singer_fanout.emit import RecordEmitter
from singer_fanout.errors import ConfigurationProblem, CredentialRejected, RunInterrupted
from singer_fanout.record_check import check_records
from singer_fanout.state import PartitionKey, PartitionStateBook, StateEmitter, partition_key
from singer_fanout.summary import RunSummary

logger = logging.getLogger("singer_fanout.engine")

Context = Mapping[str, Any]
# How often the main thread wakes up to write progress and state when nothing completes.
IDLE_TICK_S = 0.5


@dataclass(frozen=True)
class Partition:
    stream: Stream
    context: Context | None
    depth: int

    def describe(self) -> str:
        ids = " ".join(f"{k}={v}" for k, v in (self.context or {}).items())
        return f"stream '{self.stream.name}'" + (f" {ids}" if ids else "")

    @property
    def scope(self) -> str:
        """The rate-limit bucket this partition's requests count against."""
        scope_of = getattr(self.stream, "rate_limit_scope", None)
        return str(scope_of(self.context)) if scope_of else ""


# How far into a queue the scheduler looks for a partition of a less busy scope.
SPREAD_SCAN = 64


def pick_spread(queue: deque[Partition], busy: Counter[str]) -> Partition:
    """Take the queued partition whose rate-limit scope has the fewest partitions in flight.

    With per-org budgets, workers all waiting on a few spent orgs while other orgs' partitions
    wait in the queue would leave those orgs' budgets unused; spreading the workers over the
    scopes keeps every budget in use. Among equals, the oldest goes first.
    """
    best_index, best_busy = 0, None
    for index, job in enumerate(itertools.islice(queue, SPREAD_SCAN)):
        load = busy[job.scope]
        if best_busy is None or load < best_busy:
            best_index, best_busy = index, load
            if load == 0:
                break
    job = queue[best_index]
    del queue[best_index]
    return job


def fetch_partition(stream: Stream, context: Context | None) -> list[dict[str, Any]]:
    """Worker side: every record of one partition, post-processed, or an exception."""
    records = []
    own_context = dict(context) if context else None  # the stream's copy, made once
    for raw in stream.get_records(own_context):
        record = stream.post_process(raw, own_context)  # type: ignore[arg-type]
        if record is not None:
            records.append(record)
    check_records(stream, context, records)  # a wrong type fails the partition, not the load
    return records


class FanOutEngine:
    def __init__(
        self,
        *,
        book: PartitionStateBook,
        emitter: StateEmitter,
        summary: RunSummary,
        max_concurrency: int,
        completed_bookmark: Callable[[Stream, Context | None, list[dict[str, Any]]], Any],
        interrupted: Callable[[], int | None],
    ) -> None:
        self._book = book
        self._emitter = emitter
        self._summary = summary
        self._max_concurrency = max_concurrency
        self._completed_bookmark = completed_bookmark
        self._interrupted = interrupted
        self._waiting: list[deque[Partition]] = []
        self._emitters: dict[str, RecordEmitter] = {}
        self._busy: Counter[str] = Counter()  # partitions in flight per rate-limit scope
        # What the listings produced: every partition planned, and those read whole.
        self.scheduled: set[tuple[str, PartitionKey]] = set()
        self.read_whole: set[tuple[str, PartitionKey]] = set()
        self._listed: dict[str, set[tuple[Any, ...]]] = {}  # listing keys emitted, per stream

    def run(self, roots: list[Stream]) -> None:
        """Sync the root streams and, through them, every selected descendant."""
        self.run_partitions([Partition(stream, None, 0) for stream in roots])

    def run_partitions(self, partitions: list[Partition]) -> None:
        pool = ThreadPoolExecutor(self._max_concurrency, thread_name_prefix="partition")
        # Each partition in flight, with the ticket the progress estimate timed it by.
        in_flight: dict[Future[list[dict[str, Any]]], tuple[Partition, int]] = {}
        try:
            for partition in partitions:
                self._schedule(partition)
            while in_flight or any(self._waiting):
                self._stop_if_interrupted()
                while len(in_flight) < self._max_concurrency and (job := self._next_waiting()):
                    ticket = self._summary.work.started(job.stream.name)
                    in_flight[pool.submit(fetch_partition, job.stream, job.context)] = (
                        job, ticket)
                    self._busy[job.scope] += 1
                done, _ = wait(in_flight, timeout=IDLE_TICK_S, return_when=FIRST_COMPLETED)
                for future in done:
                    job, ticket = in_flight.pop(future)
                    self._busy[job.scope] -= 1
                    children = self._complete(job, future)
                    self._summary.work.finished(ticket, Counter(c.stream.name for c in children))
                self._summary.maybe_log_progress()
                self._emitter.maybe_write()
        finally:
            # Never wait for a worker stuck on a slow response when the run is over.
            pool.shutdown(wait=False, cancel_futures=True)

    def _stop_if_interrupted(self) -> None:
        signum = self._interrupted()
        if signum is not None:
            raise RunInterrupted(signum)

    def _schedule(self, job: Partition) -> bool:
        """Queue `job` unless this run already did (then False)."""
        identity = (job.stream.name, partition_key(job.context or {}))
        if identity in self.scheduled:
            return False  # listed twice (a shifted page): it is synced once
        self.scheduled.add(identity)
        while len(self._waiting) <= job.depth:
            self._waiting.append(deque())
        self._waiting[job.depth].append(job)
        self._summary.work.scheduled(job.stream.name, lists_children=bool(self._wanted(job)))
        return True

    def _next_waiting(self) -> Partition | None:
        for queue in reversed(self._waiting):  # deepest first
            if queue:
                return pick_spread(queue, self._busy)
        return None

    def _complete(
        self, job: Partition, future: Future[list[dict[str, Any]]]
    ) -> list[Partition]:
        """Emit a fetched partition (or record its failure); returns the children scheduled."""
        stream = job.stream
        try:
            records = future.result()
        except (CredentialRejected, ConfigurationProblem):
            raise  # every other request would fail the same way: the run stops
        except Exception as error:
            logger.error("partition failed, skipped: %s: %s: %s",
                         job.describe(), type(error).__name__, error)
            self._summary.partition_failed(stream.name, job.context, error)
            return []
        for record in records:
            for key, value in (job.context or {}).items():
                record.setdefault(key, value)
        if not stream.replication_key and stream.primary_keys:
            records = self._first_listed(stream, records)
        children = [child for record in records for child in self._children_of(job, record)]
        if stream.selected:
            self._emitter_for(stream).write(records)
        if stream.selected and stream.replication_key:
            bookmark = self._completed_bookmark(stream, job.context, records)
            if bookmark is not None:
                self._book.advance(stream.name, job.context or {}, stream.replication_key,
                                   bookmark)
        self._emitter.changed(len(records))
        self.read_whole.add((stream.name, partition_key(job.context or {})))
        self._summary.partition_ok(stream.name, len(records) if stream.selected else 0)
        return [child for child in children if self._schedule(child)]

    def _first_listed(self, stream: Stream, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records whose key this run has not emitted yet (listings only: they carry no
        replication key, so a repeat is never a newer version)."""
        seen = self._listed.setdefault(stream.name, set())
        fresh = []
        for record in records:
            key = tuple(record.get(name) for name in stream.primary_keys)
            if key not in seen:
                seen.add(key)
                fresh.append(record)
        if len(fresh) < len(records):
            logger.info("%s: %d item(s) listed twice (the listing shifted while it was read: "
                        "an item was added or removed); each is emitted and synced once",
                        stream.name, len(records) - len(fresh))
        return fresh

    def _emitter_for(self, stream: Stream) -> RecordEmitter:
        emitter = self._emitters.get(stream.name)
        if emitter is None:
            emitter = self._emitters[stream.name] = RecordEmitter(stream)
        return emitter

    def _children_of(self, job: Partition, record: dict[str, Any]) -> list[Partition]:
        stream = job.stream
        wanted = self._wanted(job)
        if not wanted or not stream.stream_maps[0].get_filter_result(record):
            return []
        children = []
        for child_context in stream.generate_child_contexts(record=record, context=job.context):
            if child_context is None:
                continue
            for child in wanted:
                children.append(Partition(child, dict(child_context), job.depth + 1))
        return children

    @staticmethod
    def _wanted(job: Partition) -> list[Stream]:
        """The child streams a partition's records fan out to."""
        return [c for c in job.stream.child_streams if c.selected or c.has_selected_descendents]
