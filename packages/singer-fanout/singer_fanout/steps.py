"""A partition as schedulable steps: what a worker runs, and what the main thread does after.

A partition (a stream plus its context) is planned, on the main thread, into steps: one for a
listing, one per request window for a long metrics backfill, a submit / poll / download
chain for a report-style vendor. The engine runs each step in a worker; a step answers
records and, optionally, follow-up steps of the same partition with the earliest moment
they may start (a report that is not ready yet is polled again later, without holding a
worker meanwhile). On the main thread, after a step's records are written, the plan hears
of it (`step_done`) and moves the partition's state: the plan alone decides what a bookmark
may cover, so a STATE never covers a record that was not written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from singer_sdk.streams import Stream

from singer_fanout.metrics import partition_scope
from singer_fanout.record_check import check_records

Context = Mapping[str, Any]
Record = dict[str, Any]


@dataclass
class StepResult:
    """What one step produced.

    `records` are written (in this order) before the plan hears of the step. `then` are
    follow-up steps of the same partition; none starts before `not_before` (a
    `time.monotonic()` moment) when that is set.
    """

    records: list[Record] = field(default_factory=list)
    then: Sequence[Step] = ()
    not_before: float | None = None


class Step(Protocol):
    """One unit of a partition's work, run in a worker thread."""

    def run(self) -> StepResult: ...


class PartitionPlan(Protocol):
    """A partition's steps and its state bookkeeping; every method runs on the main thread."""

    def steps(self) -> Sequence[Step]:
        """The partition's first steps, in the order they should start."""
        ...

    def step_done(self, step: Step, result: StepResult) -> None:
        """`step` finished and its records are written: advance what the state may cover."""
        ...


def finished_records(
    stream: Stream, context: Context | None, raw: Iterable[Record]
) -> list[Record]:
    """Worker side: post-process and type-check what a step fetched.

    A wrong type raises, which fails the step (and so its partition), never the load.
    """
    records = []
    own_context = dict(context) if context else None  # the stream's copy, made once
    for row in raw:
        record = stream.post_process(row, own_context)
        if record is not None:
            records.append(record)
    check_records(stream, context, records)
    return records


@dataclass(frozen=True)
class WholePartitionStep:
    """The whole partition through the stream's `get_records`: one step, one worker."""

    stream: Stream
    context: Context | None

    def run(self) -> StepResult:
        with partition_scope(self.stream, self.context):  # tags the requests' METRIC lines
            # Our streams yield records, never singer-sdk's (record, child context) pairs.
            raw = cast("Iterable[Record]", self.stream.get_records(self.context))
            return StepResult(finished_records(self.stream, self.context, raw))


class WholePartitionPlan:
    """A partition fetched in one step; `done(records)` runs once its records are written."""

    def __init__(
        self,
        stream: Stream,
        context: Context | None,
        done: Callable[[list[Record]], None] | None = None,
    ) -> None:
        self._step = WholePartitionStep(stream, context)
        self._done = done

    def steps(self) -> Sequence[Step]:
        return (self._step,)

    def step_done(self, step: Step, result: StepResult) -> None:
        if self._done is not None:
            self._done(result.records)
