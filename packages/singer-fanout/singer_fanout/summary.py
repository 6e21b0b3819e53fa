"""What happened in a run: progress lines while it runs, one summary at the end.

The summary is logged as one line and, when `summary_path` is set, written as JSON, so an
operator or a scheduler can see which partitions failed and why without reading the log.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from singer_fanout.counters import RunCounters, retries_by_cause
from singer_fanout.progress import (
    WorkEstimator,
    describe_causes,
    describe_eta,
    describe_partitions,
    describe_retries,
    describe_waits,
)
from singer_fanout.ratelimit import ScopeWait
from singer_fanout.redaction import redact, redactor

logger = logging.getLogger("singer_fanout.summary")


@dataclass
class StreamTally:
    records: int = 0
    partitions_ok: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)


class RunSummary:
    def __init__(
        self,
        tap_name: str,
        counters: RunCounters,
        *,
        progress_every_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        concurrency: int = 1,
        rate_limit_waits: Callable[[], list[ScopeWait]] = list,
    ) -> None:
        self.tap_name = tap_name
        self.counters = counters
        self._clock = clock
        self._started = clock()
        self._progress_every_s = progress_every_s
        self._last_progress = self._started
        self.streams: dict[str, StreamTally] = {}
        # The engine reports each partition scheduled, started and finished to `work`.
        self.work = WorkEstimator(concurrency, clock)
        self._rate_limit_waits = rate_limit_waits
        self._retries_at_last_line: dict[str, int] = {}
        self.outcome = "running"
        self.fatal_error: str | None = None
        # Bookmarks in the state for partitions the vendor no longer lists, per stream.
        self.unlisted_state: dict[str, int] = {}
        self.unlisted_state_pruned = False

    def tally(self, stream: str) -> StreamTally:
        return self.streams.setdefault(stream, StreamTally())

    def partition_ok(self, stream: str, records: int) -> None:
        tally = self.tally(stream)
        tally.partitions_ok += 1
        tally.records += records

    def partition_failed(
        self, stream: str, context: Mapping[str, Any] | None, error: BaseException
    ) -> None:
        self.tally(stream).failures.append(
            {"context": dict(context or {}), "error": type(error).__name__,
             "message": redact(str(error))}
        )

    @property
    def failed_partitions(self) -> int:
        return sum(len(tally.failures) for tally in self.streams.values())

    @property
    def done_partitions(self) -> int:
        return sum(t.partitions_ok + len(t.failures) for t in self.streams.values())

    @property
    def partitions_known(self) -> int:
        return self.work.estimate().known

    def maybe_log_progress(self) -> None:
        now = self._clock()
        if now - self._last_progress < self._progress_every_s:
            return
        self._last_progress = now
        estimate = self.work.estimate()
        counts = self.counters.snapshot()
        causes = retries_by_cause(counts)
        since_last = {cause: count - self._retries_at_last_line.get(cause, 0)
                      for cause, count in causes.items()
                      if count > self._retries_at_last_line.get(cause, 0)}
        self._retries_at_last_line = causes
        waits = describe_waits(self._rate_limit_waits(), dt.datetime.now(dt.timezone.utc))
        logger.info(
            "progress: %s, %d in flight, %d records, %d requests, %s, %d rate-limited, "
            "%.0fs elapsed, %s%s",
            describe_partitions(estimate, self.failed_partitions), estimate.in_flight,
            sum(t.records for t in self.streams.values()), counts.get("requests", 0),
            describe_retries(counts.get("retries", 0), since_last),
            counts.get("rate_limited", 0), now - self._started, describe_eta(estimate), waits,
        )

    def as_dict(self) -> dict[str, Any]:
        counts = self.counters.snapshot()
        return {
            "tap": self.tap_name,
            "outcome": self.outcome,
            "fatal_error": None if self.fatal_error is None else redact(self.fatal_error),
            "duration_s": round(self._clock() - self._started, 3),
            "requests": counts.get("requests", 0),
            "retries": counts.get("retries", 0),
            "retries_by_cause": retries_by_cause(counts),
            "rate_limited": counts.get("rate_limited", 0),
            "unlisted_state_partitions": dict(sorted(self.unlisted_state.items())),
            "unlisted_state_pruned": self.unlisted_state_pruned,
            "streams": {
                name: {
                    "records": tally.records,
                    "partitions_ok": tally.partitions_ok,
                    "partitions_failed": len(tally.failures),
                    "failures": tally.failures,
                }
                for name, tally in sorted(self.streams.items())
            },
        }

    def finish(self, outcome: str, summary_path: str | None) -> dict[str, Any]:
        self.outcome = outcome
        summary = redactor().redact_json(self.as_dict())
        per_stream = ", ".join(
            f"{name}: {s['records']} records, {s['partitions_ok']} ok, "
            f"{s['partitions_failed']} failed"
            for name, s in summary["streams"].items()
        )
        logger.info(
            "run summary: %s in %.1fs; %s; %d requests, %s, %d rate-limited",
            outcome, summary["duration_s"], per_stream or "no streams synced",
            summary["requests"], describe_causes(summary["retries"], summary["retries_by_cause"]),
            summary["rate_limited"],
        )
        for name, tally in sorted(self.streams.items()):
            for failure in tally.failures:
                logger.error(
                    "failed partition: stream=%s %s: %s: %s", name,
                    " ".join(f"{k}={v}" for k, v in failure["context"].items()) or "(root)",
                    failure["error"], failure["message"],
                )
        for name, count in sorted(self.unlisted_state.items()):
            fate = ("dropped from the state (prune_unlisted_state)" if self.unlisted_state_pruned
                    else "kept; set prune_unlisted_state to drop them")
            logger.info("state: %d %s bookmark(s) belong to accounts or services the vendor no "
                        "longer lists (%s)", count, name, fate)
        if summary_path:
            # Masked whole: ids or counts never hold a secret, but nothing here may.
            _write_atomically(Path(summary_path),
                              redact(json.dumps(summary, indent=2, default=str)))
        return summary


def _write_atomically(path: Path, text: str) -> None:
    """A reader sees the previous summary or the new one, never half of one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text + "\n")
        os.replace(partial, path)
    except OSError as error:  # checked before the run; a disk filling up can still do this
        logger.error("could not write summary_path %s: %s", path, error)
