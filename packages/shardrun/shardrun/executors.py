"""Where the shard tasks run: Dask distributed (a given scheduler or a LocalCluster), or
threads in this process.

Dask is an optional extra: it is imported here, inside the function that needs it, so the
taps and the rest of the runner never depend on it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from types import ModuleType
from typing import Any

from shardrun.jobs import STATUS_FAILED, ShardJob, ShardResult, now_iso
from shardrun.task import run_shard

logger = logging.getLogger("shardrun")

OnResult = Callable[[ShardResult], None]


class DaskMissing(RuntimeError):
    pass


# Dask reads its logging levels from the environment when a process imports it: set here,
# they reach the worker processes a LocalCluster spawns, not only this one.
DASK_LOG_LEVEL_VARIABLE = "DASK_LOGGING__DISTRIBUTED"


@contextlib.contextmanager
def quiet_dask(show_logs: bool) -> Iterator[None]:
    """Dask narrates every scheduler, nanny and worker start and stop at INFO (dozens of
    lines per run); what matters here is the shards' outcomes. WARNING and above still show;
    `show_logs` (the CLI's --dask-logs) leaves Dask as it is."""
    if show_logs:
        yield
        return
    dask_logger = logging.getLogger("distributed")
    old_level, old_variable = dask_logger.level, os.environ.get(DASK_LOG_LEVEL_VARIABLE)
    dask_logger.setLevel(logging.WARNING)
    os.environ[DASK_LOG_LEVEL_VARIABLE] = "warning"
    try:
        yield
    finally:
        dask_logger.setLevel(old_level)
        if old_variable is None:
            os.environ.pop(DASK_LOG_LEVEL_VARIABLE, None)
        else:
            os.environ[DASK_LOG_LEVEL_VARIABLE] = old_variable


def import_distributed() -> ModuleType:
    try:
        import distributed  # noqa: PLC0415 - optional extra, imported only when used
    except ImportError:
        raise DaskMissing(
            "the Dask executor needs dask[distributed], an optional extra: "
            "pip install 'shardrun[dask]' (or run with --executor threads)"
        ) from None
    return distributed


def run_on_threads(jobs: Sequence[ShardJob], workers: int, on_result: OnResult) -> None:
    """Each shard is subprocesses anyway; a thread per running shard only waits on them."""
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="shard") as pool:
        futures = {pool.submit(run_shard, job): job for job in jobs}
        for future in as_completed(futures):
            on_result(future.result())  # run_shard never raises


def run_on_dask(
    jobs: Sequence[ShardJob], scheduler: str | None, workers: int, on_result: OnResult,
    *, dask_logs: bool = False,
) -> str:
    """One Dask task per shard; returns a description of the cluster used."""
    distributed = import_distributed()
    with quiet_dask(dask_logs), _client(distributed, scheduler, workers) as (client, where):
        logger.info("running %d shard(s) on %s", len(jobs), where)
        futures = {
            # A fresh key: a rerun of the same shard is new work, never a cached result.
            # retries=0: a failed shard is reported, and only `--rerun-failed` repeats it.
            client.submit(run_shard, job, key=f"{job.label}-{uuid.uuid4().hex[:12]}",
                          retries=0): job
            for job in jobs
        }
        for future in distributed.as_completed(futures):
            on_result(_result_of(future, futures[future]))
    return where


@contextlib.contextmanager
def _client(distributed: ModuleType, scheduler: str | None, workers: int) -> Iterator[Any]:
    if scheduler:
        with distributed.Client(scheduler) as client:
            yield client, f"the Dask scheduler at {scheduler}"
        return
    # One thread per worker process: a worker runs one shard at a time, so `workers` bounds
    # the shards running at once. No dashboard: nothing else should bind a port.
    with distributed.LocalCluster(n_workers=max(1, workers), threads_per_worker=1,
                                  processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client, f"a LocalCluster of {max(1, workers)} worker process(es)"


def _result_of(future: Any, job: ShardJob) -> ShardResult:
    try:
        result: ShardResult = future.result()
    except Exception as error:  # the worker died (KilledWorker), lost connection, ...
        return ShardResult(
            shard=str(job.shard),
            status=STATUS_FAILED,
            reason=f"the Dask task failed: {type(error).__name__}: {error}",
            started_at=now_iso(),
            shard_dir=job.shard_dir,
        )
    return result
