"""The one function a worker runs per shard."""

from __future__ import annotations

import time
import traceback

from shardrun.jobs import STATUS_FAILED, PipeSpec, ShardJob, ShardResult, now_iso, this_process


def run_shard(job: ShardJob) -> ShardResult:
    """Run one shard to its end. Never raises: a shard's crash is that shard's result, so
    the executor never cancels the other shards over it."""
    started, clock = now_iso(), time.monotonic()
    try:
        if isinstance(job.spec, PipeSpec):
            from shardrun.pipe import run_pipe  # noqa: PLC0415 - a worker loads one mode

            return run_pipe(job)
        from shardrun.meltano_mode import run_meltano  # noqa: PLC0415

        return run_meltano(job)
    except Exception as error:
        return ShardResult(
            shard=str(job.shard),
            status=STATUS_FAILED,
            reason=f"the runner failed to run the shard: {type(error).__name__}: {error}",
            started_at=started,
            duration_s=round(time.monotonic() - clock, 3),
            ran_on=this_process(),
            shard_dir=job.shard_dir,
            log_tail=traceback.format_exc(limit=5),
        )
