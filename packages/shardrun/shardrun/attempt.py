"""One attempt at a shard: the bookkeeping pipe mode and Meltano mode share.

Both prepare the shard's directory and a fresh summary path, time the run, and hand back a
`ShardResult` carrying the tap's summary and, for a failure, the end of the failing log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shardrun.files import load_json, log_tail
from shardrun.jobs import STATUS_FAILED, STATUS_OK, ShardJob, ShardResult, now_iso, this_process


@dataclass(frozen=True)
class ShardAttempt:
    job: ShardJob
    shard_dir: Path
    summary_path: Path
    started_at: str
    started_clock: float

    @classmethod
    def begin(cls, job: ShardJob) -> ShardAttempt:
        shard_dir = Path(job.shard_dir)
        shard_dir.mkdir(parents=True, exist_ok=True)
        summary_path = shard_dir / "summary.json"
        summary_path.unlink(missing_ok=True)  # a summary left by an earlier run must not pass
        return cls(job, shard_dir, summary_path, now_iso(), time.monotonic())

    def result(
        self,
        *,
        ok: bool,
        reason: str,
        exit_codes: dict[str, int | None],
        failing_log: Path,
        state: dict[str, Any] | None = None,
    ) -> ShardResult:
        return ShardResult(
            shard=str(self.job.shard),
            status=STATUS_OK if ok else STATUS_FAILED,
            reason="" if ok else reason,
            exit_codes=exit_codes,
            summary=load_json(self.summary_path),
            state=state,
            started_at=self.started_at,
            duration_s=round(time.monotonic() - self.started_clock, 3),
            ran_on=this_process(),
            shard_dir=str(self.shard_dir),
            log_tail="" if ok else log_tail(failing_log),
        )
