"""Asynchronous jobs (a report the vendor prepares, then serves): submit, poll, fetch.

A vendor tap says how to submit a job, read its status and fetch its result (`AsyncJob`);
the kit turns that into partition steps (see steps.py): the submit step answers a poll step
due a little later, a poll step answers itself again (further apart each time) until the
job is ready, then fetches the result in the same step. Between polls the partition holds
no worker: the engine keeps the step aside until it is due, so the jobs of many
partitions are in flight at once whatever `max_concurrency` is.

A job that the vendor reports failed, that expired, or that is not ready within the
timeout fails its partition only (a PartitionError), like any request that failed for good.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from typing_extensions import override

from singer_fanout.daywindows import DayWindow, StartWindow, WindowAnswer, WindowResult
from singer_fanout.errors import PartitionError
from singer_fanout.metrics import partition_scope
from singer_fanout.steps import Record, Step, StepResult, finished_records
from singer_fanout.stream import DayPartitionedStream
from singer_fanout.vendor_settings import VendorSetting

# Polls of one job move apart by this factor, up to `max_poll_interval_s`.
POLL_BACKOFF = 1.5


@dataclass(frozen=True)
class JobStatus:
    state: Literal["pending", "ready", "failed"]
    detail: str = ""  # the vendor's reason, when failed
    result: Any = None  # what fetching needs once ready (a download URL)


class AsyncJob(Protocol):
    """One vendor job; every method runs in a worker and may raise PartitionError."""

    @property
    def what(self) -> str:
        """For errors and logs: ids and dates, never secrets."""
        ...

    def submit(self) -> Any:
        """Start the job; returns its handle (an id)."""
        ...

    def poll(self, handle: Any) -> JobStatus: ...

    def fetch(self, handle: Any, status: JobStatus) -> list[Record]:
        """The records of a ready job."""
        ...


@dataclass(frozen=True)
class JobTiming:
    first_poll_s: float = 2.0
    max_poll_interval_s: float = 30.0
    timeout_s: float = 900.0


# The fetched records post-processed (in the worker) into the step's result.
Finish = Callable[[list[Record]], StepResult]


@dataclass(frozen=True)
class JobSubmitStep:
    job: AsyncJob
    timing: JobTiming
    finish: Finish  # post-processing of the fetched records (in the worker)
    window: DayWindow  # the days the job covers (its partition's plan tracks windows)
    clock: Callable[[], float] = time.monotonic

    def run(self) -> StepResult:
        handle = self.job.submit()
        now = self.clock()
        poll = JobPollStep(self, handle, deadline=now + self.timing.timeout_s,
                           interval_s=self.timing.first_poll_s)
        return StepResult(then=(poll,), not_before=now + self.timing.first_poll_s)


@dataclass(frozen=True)
class JobPollStep:
    submitted: JobSubmitStep
    handle: Any
    deadline: float
    interval_s: float

    @property
    def window(self) -> DayWindow:
        return self.submitted.window

    def run(self) -> StepResult:
        job, timing, clock = self.submitted.job, self.submitted.timing, self.submitted.clock
        status = job.poll(self.handle)
        if status.state == "failed":
            raise PartitionError(job.what, f"the vendor reports the job failed: {status.detail}")
        if status.state == "ready":
            return self.submitted.finish(job.fetch(self.handle, status))
        now = clock()
        if now >= self.deadline:
            raise PartitionError(job.what, f"the job was not ready after {timing.timeout_s:g}s")
        interval = min(self.interval_s * POLL_BACKOFF, timing.max_poll_interval_s)
        again = dataclasses.replace(self, interval_s=interval)
        return StepResult(then=(again,), not_before=min(now + interval, self.deadline))


def run_steps(first: Step, sleep: Callable[[float], None] = time.sleep,
              clock: Callable[[], float] = time.monotonic) -> list[Record]:
    """A chain of steps start to finish in this thread (singer-sdk's own sync path)."""
    records: list[Record] = []
    pending: list[Step] = [first]
    while pending:
        result = pending.pop(0).run()
        records.extend(result.records)
        if result.then and result.not_before is not None:
            sleep(max(0.0, result.not_before - clock()))
        pending.extend(result.then)
    return records


# The settings a tap whose metrics come from report jobs declares (VendorDefaults.settings).
REPORT_SETTINGS = (
    VendorSetting("report_poll_seconds", "number", default=2, minimum=0.01,
                  description="Seconds from submitting a report to its first status check; "
                  "later checks move apart (x1.5 each, at most 30 s). No worker is held "
                  "while a report is being prepared."),
    VendorSetting("report_timeout_seconds", "number", default=900, minimum=1,
                  description="A report not ready this long after it was submitted fails its "
                  "partition (the bookmark stays; the next run asks again)."),
)


@dataclass(frozen=True)
class _TaggedJob:
    """A stream's job whose requests' METRIC lines are tagged with its partition."""

    job: AsyncJob
    stream: DayPartitionedStream
    context: Mapping[str, Any]

    @property
    def what(self) -> str:
        return self.job.what

    def submit(self) -> Any:
        with partition_scope(self.stream, self.context):
            return self.job.submit()

    def poll(self, handle: Any) -> JobStatus:
        with partition_scope(self.stream, self.context):
            return self.job.poll(handle)

    def fetch(self, handle: Any, status: JobStatus) -> list[Record]:
        with partition_scope(self.stream, self.context):
            return self.job.fetch(handle, status)


class ReportStream(DayPartitionedStream):
    """A day-keyed stream whose data comes from report jobs, one per window of days.

    The tap says how many days one report may cover (`max_window_days`), what one
    report job is (`report_job`) and which days of a report the vendor has not marked
    final (`unsettled_days`); the kit plans the days due as for any day-keyed stream (see
    `finality.py`), one report per window, and runs each job as steps: the engine keeps a
    pending report aside until its next poll is due.
    """

    def report_job(self, context: Mapping[str, Any], first: dt.date, last: dt.date) -> AsyncJob:
        raise NotImplementedError

    def unsettled_days(self, rows: list[Record]) -> set[dt.date]:
        """The days of a report's rows (as fetched) the vendor may still change."""
        raise NotImplementedError

    def report_timing(self) -> JobTiming:
        values = self.fanout_tap.run_settings.vendor_values
        return JobTiming(first_poll_s=values["report_poll_seconds"],
                         timeout_s=values["report_timeout_seconds"])

    def submit_step(self, context: Mapping[str, Any], window: DayWindow) -> JobSubmitStep:
        def finish(raw: list[Record]) -> WindowResult:
            unsettled = self.unsettled_days(raw) & window.days()
            return WindowResult(finished_records(self, context, raw), unsettled=unsettled)

        job = _TaggedJob(self.report_job(context, window.first, window.last), self, context)
        return JobSubmitStep(job, self.report_timing(), finish, window=window)

    @override
    def start_window(self, context: Mapping[str, Any]) -> StartWindow | None:
        return lambda window: self.submit_step(context, window)

    @override
    def fetch_window(
        self, context: Mapping[str, Any], first: dt.date, last: dt.date
    ) -> WindowAnswer:
        # singer-sdk's own sync path (its standard tests): the job start to finish, here.
        window = DayWindow(first, last, 0)
        return WindowAnswer(run_steps(self.submit_step(context, window)))
