"""What happened in a run: progress lines while it runs, one summary at the end.

The summary is logged as one line and, when `summary_path` is set, written as JSON, so an
operator or a scheduler can see which partitions failed and why without reading the log.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tapkit.counters import RunCounters
from tapkit.redaction import redact, redactor

logger = logging.getLogger("tapkit.summary")


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
    ) -> None:
        self.tap_name = tap_name
        self.counters = counters
        self._clock = clock
        self._started = clock()
        self._progress_every_s = progress_every_s
        self._last_progress = self._started
        self.streams: dict[str, StreamTally] = {}
        self.partitions_known = 0
        self.outcome = "running"
        self.fatal_error: str | None = None

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

    def maybe_log_progress(self) -> None:
        now = self._clock()
        if now - self._last_progress < self._progress_every_s:
            return
        self._last_progress = now
        done, known = self.done_partitions, max(self.partitions_known, 1)
        elapsed = now - self._started
        eta = ""
        if 0 < done < known:
            eta = f", ETA {elapsed / done * (known - done):.0f}s (partitions known so far)"
        counts = self.counters.snapshot()
        logger.info(
            "progress: %d/%d partitions done (%d failed), %d requests, %d retries, "
            "%d rate-limited, %d records, %.0fs elapsed%s",
            done, known, self.failed_partitions, counts.get("requests", 0),
            counts.get("retries", 0), counts.get("rate_limited", 0),
            sum(t.records for t in self.streams.values()), elapsed, eta,
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
            "rate_limited": counts.get("rate_limited", 0),
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
            "run summary: %s in %.1fs; %s; %d requests, %d retries, %d rate-limited",
            outcome, summary["duration_s"], per_stream or "no streams synced",
            summary["requests"], summary["retries"], summary["rate_limited"],
        )
        for name, tally in sorted(self.streams.items()):
            for failure in tally.failures:
                logger.error(
                    "failed partition: stream=%s %s: %s: %s", name,
                    " ".join(f"{k}={v}" for k, v in failure["context"].items()) or "(root)",
                    failure["error"], failure["message"],
                )
        if summary_path:
            path = Path(summary_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            # Masked whole: ids or counts never hold a secret, but nothing here may.
            path.write_text(redact(json.dumps(summary, indent=2, default=str)) + "\n")
        return summary
