"""When STATE goes out: a run's STATE bytes bounded by its final state, and a bounded redo.

Each scenario drives the real `PartitionStateBook` and `StateEmitter` the way the engine
does (a bookmark moves, `changed`, `maybe_write`), on a clock that passes the time interval
at every step, so only the partition-share rule can hold a STATE back.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from singer_sdk.singerlib import StateMessage
from singer_sdk.singerlib.encoding import SimpleSingerWriter

from singer_fanout import redaction
from singer_fanout.errors import ConfigurationProblem
from singer_fanout.settings import RunSettings
from singer_fanout.state import PartitionStateBook, StateEmitter
from singer_fanout.writer import StateFlushingWriter, encode_state
from tap_vendorx.tap import TapVendorX

EVERY_S = 10.0


class Run:
    """A book, an emitter on a fake clock, and every STATE written, in bytes."""

    def __init__(self, state: dict[str, Any], redo_share: float) -> None:
        self.book = PartitionStateBook(state)
        self.clock = 0.0
        self.sizes: list[int] = []
        # Most partitions whose progress was unwritten at any moment: what a kill re-does.
        self.worst_unwritten = 0
        self.emitter = StateEmitter(self._write, state, every_s=EVERY_S, every_records=10**9,
                                    redo_share=redo_share, book=self.book,
                                    clock=lambda: self.clock)

    def _write(self, state: dict[str, Any]) -> None:
        self.sizes.append(len(json.dumps(state)))

    def sync(self, service: int, day: str) -> None:
        self.book.advance("metrics", {"account_id": "a", "service_id": f"s{service}"},
                          "date", day)
        self.emitter.changed(3)
        self.worst_unwritten = max(self.worst_unwritten, self.book.moved_since_written)
        self.clock += EVERY_S  # a long run: the time interval alone would write every time
        self.emitter.maybe_write()

    def finish(self) -> None:
        self.emitter.write_now()  # what the tap does at the end


def full_state(services: int, day: str) -> dict[str, Any]:
    return {"bookmarks": {"metrics": {"partitions": [
        {"context": {"account_id": "a", "service_id": f"s{n}"},
         "replication_key": "date", "replication_key_value": day} for n in range(services)]}}}


@pytest.mark.parametrize("share", [0.125, 0.25, 0.05])
def test_first_run_writes_at_most_one_over_share_times_the_final_state(share):
    run = Run({}, share)
    for service in range(4000):
        run.sync(service, "2026-11-24")
    run.finish()
    final = run.sizes[-1]
    assert sum(run.sizes) <= (1 / share + 1) * final
    # Growing from nothing, the state goes out geometrically: more than a handful of times.
    assert len(run.sizes) > 1 / share
    # A kill at any moment re-does fewer than `share` of the partitions (plus the one that
    # just moved, before the emitter looked).
    assert run.worst_unwritten <= share * 4000 + 1


def test_incremental_run_over_a_full_state_writes_about_one_over_share_states():
    services = 4000
    run = Run(full_state(services, "2026-11-20"), 0.125)
    for service in range(services):
        run.sync(service, "2026-11-24")
    run.finish()
    final = run.sizes[-1]
    assert len(run.sizes) == 8 + 1  # every 500 partitions, then the end
    assert sum(run.sizes) <= 9 * final
    assert run.worst_unwritten <= 500


def test_a_longer_run_writes_no_more_bytes():
    """The old policy's bytes grow with the run's length; the new one's stay put."""
    def total(share: float, passes: int) -> float:
        run = Run(full_state(1000, "2026-11-01"), share)
        for day in range(passes):  # e.g. a backfill whose windows move each bookmark often
            for service in range(1000):
                run.sync(service, f"2026-11-{day + 2:02d}")
        run.finish()
        return sum(run.sizes) / run.sizes[-1]

    assert total(0.125, 1) <= 9
    assert total(0.125, 4) <= 4 * 8 + 1  # each pass moves every partition once more
    assert total(0.0, 1) > 1000  # the time-only policy: a STATE at every step


def test_a_small_state_goes_out_on_time_as_before():
    run = Run({}, 0.125)
    for service in range(5):  # fewer partitions than 1 / share: any move is worth a STATE
        run.sync(service, "2026-11-24")
    assert len(run.sizes) == 5


def test_nothing_moved_nothing_written_and_time_still_gates():
    state = full_state(8, "2026-11-20")  # 1 / share partitions: one move is enough
    run = Run(state, 0.125)
    run.emitter.maybe_write()
    assert run.sizes == []
    run.book.advance("metrics", {"account_id": "a", "service_id": "s1"}, "date", "2026-11-21")
    run.emitter.changed(1)
    run.emitter.maybe_write()
    assert run.sizes == []  # the interval has not passed
    run.clock = EVERY_S
    run.emitter.maybe_write()
    assert len(run.sizes) == 1


def test_a_bookmark_that_does_not_move_is_no_progress():
    run = Run(full_state(100, "2026-11-24"), 0.5)
    for service in range(100):
        run.sync(service, "2026-11-20")  # older than the bookmark: it stays
    assert run.sizes == []
    assert run.book.moved_since_written == 0


def settings(**config: Any) -> RunSettings:
    return RunSettings.from_config({"sandbox": True, "start_date": "2026-01-01", **config},
                                   TapVendorX.vendor)


def test_redo_percent_setting():
    assert settings().state_redo_share == 0.125
    assert settings(state_redo_percent=0).state_redo_share == 0
    assert settings(state_redo_percent=50).state_redo_share == 0.5
    for bad in (-1, 101, "ten", True):
        with pytest.raises(ConfigurationProblem) as problem:
            settings(state_redo_percent=bad)
        assert "state_redo_percent" in str(problem.value)
        assert "percentage from 0 to 100" in str(problem.value)


def test_state_line_is_what_singer_sdk_writes_and_masks_secrets(capsys, monkeypatch):
    """The kit encodes STATE itself (no deep copy of a 12.5 MB state): same JSON, masked."""
    state = {"bookmarks": {"metrics": {"partitions": [
        {"context": {"account_id": "a1", "service_id": "svc-echo-Secret-Token-9"},
         "replication_key": "date", "replication_key_value": "2026-11-24"}]}},
        "progress": Decimal("1.5")}
    expected = SimpleSingerWriter().format_message(StateMessage(value=state))
    assert json.loads(encode_state(state)) == json.loads(expected)

    masker = redaction.Redactor()
    masker.add_values(["Secret-Token-9"])
    monkeypatch.setattr(redaction, "redactor", lambda: masker)
    StateFlushingWriter().write_message(StateMessage(value=state))
    line = capsys.readouterr().out
    assert line.endswith("}\n")
    assert line.count("\n") == 1
    assert "Secret-Token-9" not in line
    assert json.loads(line)["value"]["progress"] == 1.5
