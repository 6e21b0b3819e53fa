"""Asynchronous jobs as partition steps: submit, polls further apart, fetch; no HTTP here
(the jobs are plain objects), so what is checked is the step chain and its scheduling. The
sandbox tests (tests/taps/test_reports.py) run the same steps against VendorZ's reports."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from singer_fanout.daywindows import DayWindow, DayWindowPlan
from singer_fanout.errors import PartitionError
from singer_fanout.jobs import JobPollStep, JobStatus, JobSubmitStep, JobTiming, run_steps
from singer_fanout.state import PartitionStateBook
from singer_fanout.steps import StepResult
from tests.singer_fanout.test_engine_steps import ListPlan, run
from tests.singer_fanout.test_ratelimit import FakeClock

WINDOW = DayWindow(dt.date(2026, 11, 1), dt.date(2026, 11, 3), 0)


@dataclass
class FakeJob:
    """Ready after `pending_polls` polls (or `ready_after_s`), then fails or answers rows."""

    pending_polls: int = 0
    ready_after_s: float | None = None
    fails: bool = False
    polls: list[float] = field(default_factory=list)
    submitted_at: float = 0.0
    what: str = "job for project p1"

    def submit(self) -> str:
        self.submitted_at = time.monotonic()
        return "job-1"

    def poll(self, handle: Any) -> JobStatus:
        assert handle == "job-1"
        self.polls.append(time.monotonic())
        if self.ready_after_s is not None:
            ready = time.monotonic() - self.submitted_at >= self.ready_after_s
        else:
            ready = len(self.polls) > self.pending_polls
        if not ready:
            return JobStatus("pending")
        return JobStatus("failed", "out of paper") if self.fails else JobStatus("ready", "", "url")

    def fetch(self, handle: Any, status: JobStatus) -> list[dict[str, Any]]:
        assert status.result == "url"
        return [{"date": "2026-11-01"}, {"date": "2026-11-02"}]


def submit(job: FakeJob, timing: JobTiming, clock: Any = time.monotonic) -> JobSubmitStep:
    return JobSubmitStep(job, timing, StepResult, WINDOW, clock)


def test_polls_move_apart_until_ready_then_fetch_in_the_same_step() -> None:
    clock = FakeClock()
    job = FakeJob(pending_polls=4)
    timing = JobTiming(first_poll_s=1.0, max_poll_interval_s=2.0)
    records = run_steps(submit(job, timing, clock), sleep=clock.sleep, clock=clock)
    assert records == [{"date": "2026-11-01"}, {"date": "2026-11-02"}]
    assert len(job.polls) == 5
    assert clock.slept == [1.0, 1.5, 2.0, 2.0, 2.0]  # first poll, then x1.5 up to the cap


def test_a_failed_job_and_a_job_past_its_timeout_fail_the_step() -> None:
    clock = FakeClock()
    with pytest.raises(PartitionError, match="job for project p1: the vendor reports the job "
                                             "failed: out of paper"):
        run_steps(submit(FakeJob(fails=True), JobTiming(first_poll_s=0.5), clock),
                  sleep=clock.sleep, clock=clock)
    with pytest.raises(PartitionError, match="the job was not ready after 10s"):
        run_steps(submit(FakeJob(pending_polls=10**6), JobTiming(1.0, 4.0, timeout_s=10), clock),
                  sleep=clock.sleep, clock=clock)


def test_a_windows_bookmark_waits_for_its_last_step() -> None:
    class Stream:
        name = "metrics"
        replication_key = "date"

    book = PartitionStateBook({})
    context = {"account_id": "a", "service_id": "s"}
    job = FakeJob(pending_polls=1)
    plan = DayWindowPlan(stream=Stream(), context=context, book=book,  # type: ignore[arg-type]
                         days=(WINDOW.first, WINDOW.last), max_window_days=92,
                         fetch=lambda *_: [], start=lambda w: submit(job, JobTiming(0.0)))
    (first,) = plan.steps()
    submitted = first.run()
    plan.step_done(first, submitted)
    assert book.bookmark("metrics", context) is None  # submitted, nothing fetched yet
    poll = submitted.then[0]
    assert isinstance(poll, JobPollStep)
    assert poll.window == WINDOW
    pending = poll.run()
    plan.step_done(poll, pending)
    assert book.bookmark("metrics", context) is None
    again = pending.then[0]
    fetched = again.run()
    plan.step_done(again, fetched)
    assert book.bookmark("metrics", context) == "2026-11-03"


def test_jobs_of_many_partitions_are_in_flight_with_two_workers() -> None:
    jobs = {f"p{n}": FakeJob(ready_after_s=0.4) for n in range(12)}
    timing = JobTiming(first_poll_s=0.1, max_poll_interval_s=0.1)
    plans = {name: ListPlan([submit(job, timing)]) for name, job in jobs.items()}
    started = time.monotonic()
    summary = run_named(plans)
    wall = time.monotonic() - started
    assert summary.failed_partitions == 0
    # Every job was submitted before the first became ready: all twelve in flight at once.
    first_ready = min(job.submitted_at for job in jobs.values()) + 0.4
    assert max(job.submitted_at for job in jobs.values()) < first_ready
    # Twelve waits of 0.4 s on two workers would take 2.4 s if each held a worker.
    assert wall < 1.5


def run_named(plans: dict[str, ListPlan]) -> Any:
    # ListPlan records step names: give the job steps one.
    for plan in plans.values():
        plan.step_done = lambda step, result, plan=plan: plan.done.append(  # type: ignore[method-assign]
            type(step).__name__)
    return run(plans, concurrency=2)


def test_a_failed_job_fails_its_partition_only() -> None:
    timing = JobTiming(first_poll_s=0.05)
    plans = {"bad": ListPlan([submit(FakeJob(fails=True), timing)]),
             "good": ListPlan([submit(FakeJob(pending_polls=1), timing)])}
    summary = run_named(plans)
    assert summary.failed_partitions == 1
    assert plans["good"].done == ["JobSubmitStep", "JobPollStep", "JobPollStep"]
    assert plans["bad"].done == ["JobSubmitStep"]
