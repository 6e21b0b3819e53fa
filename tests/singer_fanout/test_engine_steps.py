"""The engine runs a partition as steps: concurrently, follow-ups later, failures isolated.

No HTTP here: the steps are plain callables, so what is checked is the scheduling alone
(the sandbox tests cover the same engine end to end).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from singer_fanout.engine import FanOutEngine, Partition
from singer_fanout.errors import CredentialRejected
from singer_fanout.outputs import StreamOutputs
from singer_fanout.state import StateEmitter
from singer_fanout.steps import Step, StepResult
from singer_fanout.summary import RunSummary

Log = list[tuple[float, str]]


class FakeStream:
    """Just enough of a stream for the engine: not selected, so nothing is written."""

    selected = False
    child_streams: list[Any] = []
    replication_key = None
    primary_keys = ()

    def __init__(self, name: str) -> None:
        self.name = name

    def rate_limit_scope(self, context: Any) -> str:
        return self.name


class Gauge:
    """How many steps run at once, at most."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = self.most = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1


GAUGE = Gauge()


@dataclass
class Sleep:
    name: str
    log: Log
    seconds: float = 0.05
    then: Sequence[Step] = ()
    wait_s: float | None = None
    fail: bool = False

    def run(self) -> StepResult:
        self.log.append((time.monotonic(), f"start {self.name}"))
        with GAUGE:
            time.sleep(self.seconds)
        if self.fail:
            raise RuntimeError(f"{self.name} broke")
        not_before = time.monotonic() + self.wait_s if self.wait_s is not None else None
        return StepResult([], self.then, not_before)


@dataclass
class ListPlan:
    first: Sequence[Step]
    done: list[str] = field(default_factory=list)

    def steps(self) -> Sequence[Step]:
        return self.first

    def step_done(self, step: Step, result: StepResult) -> None:
        assert threading.current_thread() is threading.main_thread()
        self.done.append(step.name)  # type: ignore[attr-defined]


def run(plans: dict[str, ListPlan], concurrency: int, per_partition: int | None = None
        ) -> RunSummary:
    summary = RunSummary("test", counters=_Counters())  # type: ignore[arg-type]
    engine = FanOutEngine(
        emitter=StateEmitter(lambda state: None, {}, every_s=60, every_records=10**9),
        summary=summary,
        max_concurrency=concurrency,
        plan_for=lambda partition: plans[partition.stream.name],
        interrupted=lambda: None,
        steps_per_partition=per_partition,
        outputs=StreamOutputs("test", [], {}),
    )
    engine.run_partitions([Partition(FakeStream(name), {"id": name}, 0)  # type: ignore[arg-type]
                           for name in plans])
    return summary


class _Counters:
    def snapshot(self) -> dict[str, int]:
        return {}


def test_steps_of_one_partition_run_concurrently_unless_limited():
    for limit, expected_most in ((None, 4), (2, 2), (1, 1)):
        log: Log = []
        plans = {"p": ListPlan([Sleep(f"w{n}", log, 0.1) for n in range(8)])}
        GAUGE.most = 0
        run(plans, concurrency=4, per_partition=limit)
        assert sorted(plans["p"].done) == [f"w{n}" for n in range(8)]
        assert GAUGE.most == expected_most


def test_a_follow_up_waits_for_its_moment_without_holding_a_worker():
    log: Log = []
    poll = Sleep("poll", log, 0.0)
    plans = {
        "report": ListPlan([Sleep("submit", log, 0.0, then=[poll], wait_s=1.0)]),
        "other": ListPlan([Sleep(f"o{n}", log, 0.02) for n in range(4)]),
    }
    run(plans, concurrency=1)
    assert plans["report"].done == ["submit", "poll"]
    moments = {name.split()[1]: moment for moment, name in log}
    assert moments["poll"] - moments["submit"] >= 1.0
    # The one worker did the other partition's steps while the report was not ready.
    assert all(moments[f"o{n}"] < moments["poll"] for n in range(4))


def test_a_failed_step_stops_its_partition_only():
    log: Log = []
    plans = {
        "bad": ListPlan([Sleep("b0", log), Sleep("b1", log, fail=True)]
                        + [Sleep(f"b{n}", log) for n in range(2, 6)]),
        "good": ListPlan([Sleep(f"g{n}", log) for n in range(3)]),
    }
    summary = run(plans, concurrency=1)
    assert plans["good"].done == ["g0", "g1", "g2"]
    assert plans["bad"].done == ["b0"]  # nothing after the failed step was started
    assert not any(name.startswith("start b2") for _, name in log)
    assert summary.failed_partitions == 1
    assert summary.tally("good").partitions_ok == 1


def test_credential_problems_still_stop_the_run():
    class Rejected:
        name = "x"

        def run(self) -> StepResult:
            raise CredentialRejected("api_key", 403, "rejected")

    with pytest.raises(CredentialRejected):
        run({"p": ListPlan([Rejected()])}, concurrency=2)


def test_a_partition_failing_while_queued_is_finished_once():
    # The other partition's long step holds the second worker, so the proven partition
    # waits in the queue for its next step when its step in flight fails.
    log: Log = []
    plans = {"bad": ListPlan([Sleep("b0", log, 0.0), Sleep("b1", log, 0.1, fail=True),
                              Sleep("b2", log), Sleep("b3", log)]),
             "other": ListPlan([Sleep("o0", log, 0.6)])}
    summary = run(plans, concurrency=2, per_partition=2)
    assert summary.failed_partitions == 1
    assert plans["other"].done == ["o0"]
    assert summary.work.in_flight == 0
