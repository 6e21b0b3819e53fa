"""Killed or stopped at any point, a tap resumed from its last STATE loses nothing.

SIGKILL gives the tap no chance to clean up: what counts is the last STATE line it managed
to print. Every STATE of every run must only bookmark days already printed, and the union
of the killed runs and the run that finally completes must equal the truth. SIGTERM is the
polite stop: the kit writes the state of exactly what was emitted and exits 3.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from typing import Any

from tests.chaos.checks import (
    assert_lands,
    assert_states_never_ahead,
    bookmarks_in,
    days_read_after,
    metric_keys_by_service,
    truth_of,
    window,
)
from tests.chaos.configs import SLOW, chaos_config
from tests.chaos.live_tap import (
    LiveTap,
    Message,
    first_schema,
    records_seen,
    state_with_bookmarks,
)
from tests.tap_runner import run_tap
from tests.taps.conftest import sandbox_config
from vendor_sandbox import run_sandbox

Wanted = Callable[[Message, list[Message]], bool]
# A chain of crashes: each run starts from the last STATE the previous one printed and is
# killed at the next point; the last run is left to finish.
KILL_POINTS: list[tuple[str, Wanted]] = [
    ("before any record", first_schema),
    ("right after the first STATE with a bookmark", state_with_bookmarks),
    ("after the first metrics record of a resumed run", records_seen("metrics", 1)),
]


def test_sigkill_at_several_points_then_resume_equals_truth(vendor, tmp_path):
    with run_sandbox(sandbox_config(vendor, **SLOW[vendor])) as sandbox:
        config = chaos_config(vendor, sandbox.url, max_concurrency=2)
        truth = truth_of(sandbox.config, config)
        runs = []
        saved: dict[str, Any] | None = None
        for number, (point, wanted) in enumerate(KILL_POINTS):
            tap = LiveTap(vendor, config, tmp_path, state=saved, name=f"killed-{number}")
            reached = tap.read_until(wanted)
            tap.kill()
            killed = tap.finish()
            assert reached, f"the run ended before the kill point: {point}"
            assert killed.returncode == -signal.SIGKILL, f"finished before the kill: {point}"
            runs.append(killed)
            saved = killed.states[-1] if killed.states else saved
        # A killed tap's last requests may still be in the sandbox (sleeping their latency):
        # let them finish, or they would be counted as the resumed run's.
        deadline = time.monotonic() + 30
        while sandbox.stats()["in_flight"] and time.monotonic() < deadline:
            time.sleep(0.01)
        sandbox.reset_stats()
        finished = run_tap(vendor, config, tmp_path, state=saved)
        stats = sandbox.stats()
        runs.append(finished)

    assert finished.returncode == 0, finished.stderr[-3000:]
    assert_lands(vendor, runs, truth)
    start, end = window(config)
    assert_states_never_ahead(runs, truth, start)
    # The last run started from the saved state: each service is read from its bookmark
    # (and its days not final yet; a backfill's windows are bookmarked as they finish),
    # the services without one from start_date.
    saved_bookmarks = bookmarks_in(saved)
    assert saved_bookmarks, "no kill came late enough to leave a bookmark"
    reads = {service: days_read_after(saved_bookmarks.get((account, service)), vendor, start,
                                      end, sandbox=sandbox.config, service_id=service)
             for account, service in truth["services"]}
    assert stats["metric_days_by_service"] == {service: n for service, n in reads.items() if n}


def test_sigterm_writes_the_state_of_exactly_what_was_emitted_and_exits_3(vendor, tmp_path):
    summary_path = tmp_path / "summary.json"
    with run_sandbox(sandbox_config(vendor, **SLOW[vendor])) as sandbox:
        config = chaos_config(vendor, sandbox.url, max_concurrency=2,
                              summary_path=str(summary_path))
        truth = truth_of(sandbox.config, config)
        tap = LiveTap(vendor, config, tmp_path, name="stopped")
        assert tap.read_until(records_seen("metrics", 1))
        tap.send(signal.SIGTERM)
        stopped = tap.finish()
        summary = json.loads(summary_path.read_text())
        resumed = run_tap(vendor, config, tmp_path, state=stopped.final_state)

    assert stopped.returncode == 3, stopped.stderr[-3000:]
    assert stopped.messages[-1]["type"] == "STATE", "the last word of a stopped tap is its state"
    assert summary["outcome"] == "interrupted"
    _assert_state_covers_exactly_what_was_emitted(stopped.records, stopped.bookmarks(), truth,
                                                  config)
    assert len(stopped.bookmarks()) < len(truth["services"]), "the stop came after the end"

    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_lands(vendor, [stopped, resumed], truth)
    assert_states_never_ahead([stopped, resumed], truth, window(config)[0])


def _assert_state_covers_exactly_what_was_emitted(
    records: dict[str, list[dict[str, Any]]],
    bookmarks: dict[tuple[str, str], str],
    truth: dict[str, Any],
    config: dict[str, Any],
) -> None:
    """A service's bookmark covers only days that went out, and the stop wrote it last.

    A partition's windows go out as they finish; the bookmark is the end of the windows
    finished without a gap from the start, so the state holds the last such day.
    """
    days = metric_keys_by_service(truth)
    emitted: dict[tuple[str, str], set[str]] = {}
    for record in records.get("metrics", []):
        emitted.setdefault((record["account_id"], record["service_id"]), set()).add(
            record["date"])
    for service, bookmark in bookmarks.items():
        assert config["start_date"] <= bookmark <= config["end_date"]
        covered = {day for day in days.get(service, []) if day <= bookmark}
        assert covered <= emitted.get(service, set()), service
    for service, dates in emitted.items():
        # Every service that emitted something has its finished prefix in the state: its
        # first window (which runs alone) at least.
        assert dates <= set(days[service])
        assert service in bookmarks, service
