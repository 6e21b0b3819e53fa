"""Concurrent fan-out of partitions, each one isolated from the others' failures.

singer-sdk syncs child partitions one at a time and lets one exception end the run. Here a
partition (a stream plus its context: the accounts list, one account's services, one
service's metrics) is planned into steps (see `steps.py`): a listing is one step, a long
metrics backfill one step per request window. Worker threads run the steps, those of one
partition concurrently too; the main thread writes each step's records, lets the
partition's plan advance its bookmark and schedules the children. So:

- HTTP runs in up to `max_concurrency` workers; every Singer message is written by the main
  thread, so SCHEMA precedes RECORD and a STATE never covers records not yet written.
- A partition's first step runs alone; its other steps fan out once one succeeded, so a
  service that always fails costs one request's retries, as it did before windows.
- A failed step fails its partition: its steps not yet started are dropped, the ones in
  flight finish and are written, and the bookmark stays behind the failed step (the plan
  only advances over a contiguous prefix of finished steps). The other partitions go on.
- One run emits a listing's key at most once and schedules a partition at most once: a
  page-numbered listing that shifts while it is read (an account created mid-run) repeats an
  item on the next page, which must not sync that account twice.
- A credential the vendor stops accepting mid-run ends the run (exit 2) at the first
  partition that sees it: the HTTP client tells it from one account's missing permission.
- Deeper partitions are scheduled first (metrics before more service listings), and a
  partition already started goes before a new one at its depth, so what is waiting in
  memory stays bounded by the work in flight, not by the size of the account.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from typing import Any, Protocol, TypeVar

from singer_sdk.streams import Stream

from singer_fanout.errors import ConfigurationProblem, CredentialRejected, RunInterrupted
from singer_fanout.outputs import StreamOutputs
from singer_fanout.state import StateEmitter, partition_key
from singer_fanout.steps import PartitionPlan, Record, Step, StepResult
from singer_fanout.summary import RunSummary

logger = logging.getLogger("singer_fanout.engine")

Context = Mapping[str, Any]
# How often the main thread wakes up to write progress and state when nothing completes.
IDLE_TICK_S = 0.5


@dataclass(frozen=True, slots=True)  # one per queued partition: no __dict__
class Partition:
    stream: Stream
    context: Context | None
    depth: int
    # What the parent record said that the child context (a fixed contract) does not carry,
    # e.g. a service's lifetime; handed to the plan, never written to state.
    hints: Any = None

    def describe(self) -> str:
        ids = " ".join(f"{k}={v}" for k, v in (self.context or {}).items())
        return f"stream '{self.stream.name}'" + (f" {ids}" if ids else "")

    @property
    def scope(self) -> str:
        """The rate-limit bucket this partition's requests count against."""
        scope_of = getattr(self.stream, "rate_limit_scope", None)
        return str(scope_of(self.context)) if scope_of else ""


class _Scoped(Protocol):
    @property
    def scope(self) -> str: ...


ScopedT = TypeVar("ScopedT", bound=_Scoped)
# How far into a queue the scheduler looks for a partition of a less busy scope.
SPREAD_SCAN = 64


def pick_spread(queue: deque[ScopedT], busy: Counter[str]) -> ScopedT:
    """Take the queued partition whose rate-limit scope has the fewest steps in flight.

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


# The steps of every partition not planned yet (never appended to: a plan brings its own).
_UNPLANNED: deque[Any] = deque(maxlen=0)


class _Running:
    """A partition from the moment it is scheduled until its last step is written."""

    __slots__ = (
        "children",
        "delayed",
        "done",
        "failed",
        "in_flight",
        "listed",
        "partition",
        "plan",
        "proven",
        "queued",
        "ready",
        "records",
        "scope",
        "ticket",
    )

    def __init__(self, partition: Partition) -> None:
        self.partition = partition
        self.scope = partition.scope
        self.plan: PartitionPlan | None = None  # made when the partition first gets a worker
        # An empty deque costs ~600 bytes and every service of a listing waits here before
        # its first step: the shared empty one until the plan gives the partition its own.
        self.ready: deque[Step] = _UNPLANNED
        self.in_flight = 0
        self.delayed = 0  # follow-up steps waiting for their moment
        self.failed = False
        self.done = False  # its last step is written (or it failed and nothing is left)
        self.proven = False  # one of its steps succeeded: the rest may fan out
        self.records = 0
        self.queued = True
        self.ticket: int | None = None  # the progress estimate's, from its first step on
        self.children: Counter[str] | None = None  # partitions it found, by stream
        # A listing's keys emitted so far (a listing only): a repeat is on a later page of
        # the same listing, so the keys are held while it runs, not for the whole run.
        self.listed: set[tuple[Any, ...]] | None = None

    @property
    def idle(self) -> bool:
        return not (self.ready or self.in_flight or self.delayed)


class FanOutEngine:
    def __init__(
        self,
        *,
        emitter: StateEmitter,
        summary: RunSummary,
        outputs: StreamOutputs,
        max_concurrency: int,
        plan_for: Callable[[Partition], PartitionPlan],
        interrupted: Callable[[], int | None],
        steps_per_partition: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._emitter = emitter
        self._summary = summary
        self._max_concurrency = max_concurrency
        self._plan_for = plan_for
        self._interrupted = interrupted
        # Steps of one partition in flight at once (1: one after another, the old way).
        self._steps_per_partition = steps_per_partition or max_concurrency
        self._clock = clock
        self._waiting: list[deque[_Running]] = []
        self._delayed: list[tuple[float, int, _Running, Step]] = []  # a heap by moment
        self._sequence = itertools.count()
        self._outputs = outputs  # RECORD or BATCH messages, table versions, METRIC lines
        self._busy: Counter[str] = Counter()  # steps in flight per rate-limit scope
        # What the listings produced: every partition planned, and the listings (partitions
        # of streams with children) read whole, as (stream, *partition_key), flat.
        self.scheduled: set[tuple[Any, ...]] = set()
        self.read_whole: set[tuple[Any, ...]] = set()

    def run(self, roots: list[Stream]) -> None:
        """Sync the root streams and, through them, every selected descendant."""
        self.run_partitions([Partition(stream, None, 0) for stream in roots])

    def run_partitions(self, partitions: list[Partition]) -> None:
        pool = ThreadPoolExecutor(self._max_concurrency, thread_name_prefix="partition")
        in_flight: dict[Future[StepResult], tuple[_Running, Step]] = {}
        # Each finished step's future lands here. `concurrent.futures.wait` would instead
        # install and remove a waiter on every future in flight at every turn of this loop:
        # a tenth of the tap's CPU per request at concurrency 16.
        finished: SimpleQueue[Future[StepResult]] = SimpleQueue()
        try:
            for partition in partitions:
                self._schedule(partition)
            while in_flight or self._delayed or any(self._waiting):
                self._stop_if_interrupted()
                self._release_due_steps()
                while len(in_flight) < self._max_concurrency and (picked := self._next_step()):
                    running, step = picked
                    future = pool.submit(step.run)
                    in_flight[future] = picked
                    future.add_done_callback(finished.put)
                    self._busy[running.scope] += 1
                for future in _first_finished(finished, self._tick()):
                    running, step = in_flight.pop(future)
                    self._busy[running.scope] -= 1
                    running.in_flight -= 1
                    self._complete(running, step, future)
                self._summary.maybe_log_progress()
                self._emitter.maybe_write()
        finally:
            # Never wait for a worker stuck on a slow response when the run is over.
            pool.shutdown(wait=False, cancel_futures=True)

    def _stop_if_interrupted(self) -> None:
        signum = self._interrupted()
        if signum is not None:
            raise RunInterrupted(signum)

    def _tick(self) -> float:
        if not self._delayed:
            return IDLE_TICK_S
        return max(0.0, min(IDLE_TICK_S, self._delayed[0][0] - self._clock()))

    def _schedule(self, partition: Partition) -> bool:
        """Queue `partition` unless this run already did (then False)."""
        identity = (partition.stream.name, *partition_key(partition.context or {}))
        if identity in self.scheduled:
            return False  # listed twice (a shifted page): it is synced once
        self.scheduled.add(identity)
        self._queue(_Running(partition), first=False)
        self._summary.work.scheduled(partition.stream.name,
                                     lists_children=bool(self._wanted(partition)))
        return True

    def _queue(self, running: _Running, *, first: bool) -> None:
        depth = running.partition.depth
        while len(self._waiting) <= depth:
            self._waiting.append(deque())
        if first:
            self._waiting[depth].appendleft(running)
        else:
            self._waiting[depth].append(running)
        running.queued = True

    def _next_step(self) -> tuple[_Running, Step] | None:
        for queue in reversed(self._waiting):  # deepest first
            while queue:
                running = pick_spread(queue, self._busy)
                running.queued = False
                if running.done:
                    continue  # failed while queued, already finished
                if running.plan is None:
                    running.ticket = self._summary.work.started(running.partition.stream.name)
                    running.plan = self._plan_for(running.partition)
                    running.ready = deque(running.plan.steps())
                if not running.ready:
                    if running.idle:
                        self._finish(running)  # nothing to fetch, e.g. nothing is due
                    continue
                step = running.ready.popleft()
                running.in_flight += 1
                self._requeue_if_ready(running)
                return running, step
        return None

    def _requeue_if_ready(self, running: _Running) -> None:
        # A partition's first step runs alone: a service that always fails then costs one
        # step's retries, not a retried request per worker.
        limit = self._steps_per_partition if running.proven else 1
        if (running.ready and not running.queued and not running.failed
                and running.in_flight < limit):
            # A started partition goes first: its bookmark moves and its memory is freed.
            self._queue(running, first=True)

    def _release_due_steps(self) -> None:
        now = self._clock()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, running, step = heapq.heappop(self._delayed)
            running.delayed -= 1
            if running.failed:
                if running.idle:
                    self._finish(running)
                continue
            running.ready.append(step)
            self._requeue_if_ready(running)

    def _complete(self, running: _Running, step: Step, future: Future[StepResult]) -> None:
        try:
            result = future.result()
        except (CredentialRejected, ConfigurationProblem):
            raise  # every other request would fail the same way: the run stops
        except Exception as error:
            self._fail(running, error)
        else:
            running.proven = True
            self._write(running, step, result)
        if running.idle:
            self._finish(running)
        else:
            self._requeue_if_ready(running)

    def _fail(self, running: _Running, error: Exception) -> None:
        if running.failed:
            return  # one entry per partition, however many of its steps were in flight
        job = running.partition
        logger.error("partition failed, skipped: %s: %s: %s",
                     job.describe(), type(error).__name__, error)
        self._summary.partition_failed(job.stream.name, job.context, error)
        self._outputs.partition_failed(job.stream)
        running.failed = True
        if running.ready:
            running.ready.clear()  # steps in flight finish and are written; no new ones start

    def _write(self, running: _Running, step: Step, result: StepResult) -> None:
        job = running.partition
        stream = job.stream
        records = result.records
        context = tuple((job.context or {}).items())
        for record in records:
            for key, value in context:
                record.setdefault(key, value)
        if not stream.replication_key and stream.primary_keys:
            records = self._first_listed(running, records)
        wanted = self._wanted(job)  # none for the leaves, whose records are most of a run
        children = [child for record in records
                    for child in self._children_of(job, record, wanted)] if wanted else []
        if stream.selected:
            self._outputs.write(stream, records)
            running.records += len(records)
        assert running.plan is not None
        running.plan.step_done(step, result)
        self._emitter.changed(len(records))
        scheduled = [child for child in children if self._schedule(child)]
        if scheduled:
            running.children = running.children or Counter()
            running.children.update(child.stream.name for child in scheduled)
        if result.then and not running.failed:
            if result.not_before is not None and result.not_before > self._clock():
                for follow_up in result.then:
                    heapq.heappush(self._delayed, (result.not_before, next(self._sequence),
                                                   running, follow_up))
                    running.delayed += 1
            else:
                running.ready.extend(result.then)

    def _finish(self, running: _Running) -> None:
        if running.done:
            return
        running.done = True
        if running.ticket is not None:
            self._summary.work.finished(running.ticket, running.children)
        name = running.partition.stream.name
        if running.failed:
            self._summary.tally(name).records += running.records
        else:
            if running.partition.stream.child_streams:
                # Only a listing's "read whole" tells anything (see listings.py); the leaves
                # (one per service) would cost ~130 bytes each.
                self.read_whole.add((name, *partition_key(running.partition.context or {})))
            self._summary.partition_ok(name, running.records)

    def _first_listed(self, running: _Running, records: list[Record]) -> list[Record]:
        """The records whose key this listing has not emitted yet (listings only: they carry
        no replication key, so a repeat is never a newer version; another listing of the
        same key would be the same partition, which is scheduled once)."""
        stream = running.partition.stream
        seen = running.listed = running.listed or set()
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

    def _children_of(self, job: Partition, record: Record,
                     wanted: list[Stream]) -> list[Partition]:
        stream = job.stream
        if not stream.stream_maps[0].get_filter_result(record):
            return []
        hints_of = getattr(stream, "child_hints", None)
        hints = hints_of(record) if hints_of is not None else None
        children = []
        for child_context in stream.generate_child_contexts(record=record, context=job.context):
            if child_context is None:
                continue
            for child in wanted:
                children.append(Partition(child, dict(child_context), job.depth + 1, hints))
        return children

    @staticmethod
    def _wanted(job: Partition) -> list[Stream]:
        """The child streams a partition's records fan out to."""
        return [c for c in job.stream.child_streams if c.selected or c.has_selected_descendents]


def _first_finished(finished: SimpleQueue[Future[StepResult]],
                    timeout: float) -> list[Future[StepResult]]:
    """The futures finished so far, waiting up to `timeout` for the first one."""
    try:
        done = [finished.get(timeout=timeout)]
    except Empty:
        return []
    while not finished.empty():
        done.append(finished.get_nowait())
    return done
