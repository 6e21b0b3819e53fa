"""One sharded run: choose the shards, carry state over, fan out, record every outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shardrun.executors import import_distributed, run_on_dask, run_on_threads
from shardrun.jobs import MeltanoSpec, PipeSpec, ShardJob, ShardResult, all_shards
from shardrun.report import report_lines
from shardrun.state_merge import merge_states, state_for_shard
from shardrun.workdir import Manifest, WorkDir, WorkDirProblem
from singer_fanout.settings import Shard

EXIT_ALL_OK = 0
EXIT_SOME_FAILED = 1


@dataclass(frozen=True)
class RunRequest:
    shard_count: int
    work_dir: Path
    spec: PipeSpec | MeltanoSpec
    rerun_failed: bool = False
    executor: str = "dask"  # or "threads", or "prefect" (inside `shardrun_flow`)
    scheduler: str | None = None
    workers: int | None = None  # default: one per shard, all shards at once
    timeout_s: float | None = None
    dask_logs: bool = False  # Dask's own INFO logs (quiet unless asked for)
    # Prefect only: retries of a failed shard, within the run, and the wait before each.
    shard_retries: int = 0
    retry_delay_s: float = 10.0

    @property
    def mode(self) -> str:
        return "pipe" if isinstance(self.spec, PipeSpec) else "meltano"


def run(request: RunRequest, say: Callable[[str], None] = print) -> int:
    work = WorkDir(request.work_dir.resolve())
    if request.executor == "dask":
        import_distributed()  # a missing extra is said before any shard is marked running
    with work.locked():
        manifest = work.load_manifest()
        shards = choose_shards(request, manifest)
        if not shards:
            say(f"nothing to rerun: every shard in {work.root} succeeded last time")
            return EXIT_ALL_OK
        if manifest is None or manifest.shard_count != request.shard_count:
            manifest = _start_layout(work, manifest, request, say)
        manifest.mode = request.mode
        for shard in shards:
            manifest.mark_running(shard)
        work.save_manifest(manifest)

        results: list[ShardResult] = []

        def record(result: ShardResult) -> None:
            # Persisted at once: a runner killed later still keeps this shard's outcome.
            shard = Shard.parse(result.shard)
            if request.mode == "pipe":
                work.save_state(shard, result.state)
            manifest.record(result)
            work.save_manifest(manifest)
            results.append(result)
            tries = f" after {result.tries} tries" if result.tries > 1 else ""
            say(f"{result.shard}: {result.status}{tries}"
                + (f" ({result.reason})" if result.reason else ""))

        jobs = [_job(work, request, shard) for shard in shards]
        where = _execute(jobs, request, record)
    for line in report_lines(results, where, work.root):
        say(line)
    return EXIT_ALL_OK if all(result.ok for result in results) else EXIT_SOME_FAILED


def choose_shards(request: RunRequest, manifest: Manifest | None) -> list[Shard]:
    if not request.rerun_failed:
        return all_shards(request.shard_count)
    if manifest is None:
        raise WorkDirProblem("--rerun-failed: no earlier run recorded in this work directory")
    if manifest.shard_count != request.shard_count:
        raise WorkDirProblem(
            f"--rerun-failed: the last run had {manifest.shard_count} shards, not "
            f"{request.shard_count}; rerun with --shards {manifest.shard_count}"
        )
    return manifest.failed()


def _start_layout(
    work: WorkDir, old: Manifest | None, request: RunRequest, say: Callable[[str], None]
) -> Manifest:
    """A first run, or a new shard count: split the old shards' state among the new ones."""
    if old is not None and old.mode == request.mode == "pipe":
        merged = merge_states(work.shard_states(old.shard_count))
        retired = work.retire(old.shard_count)
        for shard in all_shards(request.shard_count):
            work.save_state(shard, state_for_shard(merged, shard))
        say(f"resharded {old.shard_count} -> {request.shard_count}: state carried over; "
            f"the old shard folders are in {retired}")
    elif old is not None and old.mode == request.mode == "meltano":
        assert isinstance(request.spec, MeltanoSpec)
        from shardrun.meltano_state import carry_over  # noqa: PLC0415

        found = carry_over(request.spec, old.shard_count, request.shard_count)
        work.retire(old.shard_count)
        say(f"resharded {old.shard_count} -> {request.shard_count}: the state of {found} "
            "old shard(s) split among the new state ids")
    elif old is not None:
        say(f"shard count {old.shard_count} -> {request.shard_count} and mode {old.mode} -> "
            f"{request.mode}: no state carried over (docs/sharding.md)")
    return Manifest(request.shard_count, request.mode)


def _job(work: WorkDir, request: RunRequest, shard: Shard) -> ShardJob:
    return ShardJob(
        shard=shard,
        shard_dir=str(work.shard_dir(shard)),
        spec=request.spec,
        state=work.load_state(shard) if request.mode == "pipe" else None,
        timeout_s=request.timeout_s,
    )


def _execute(
    jobs: list[ShardJob], request: RunRequest, record: Callable[[ShardResult], None]
) -> str:
    workers = request.workers or request.shard_count
    if request.executor == "threads":
        run_on_threads(jobs, workers, record)
        return f"{workers} local thread(s)"
    if request.executor == "prefect":
        # Called inside `shardrun_flow`: the flow's task runner decides where shards run.
        from shardrun.prefect_flow import map_shards  # noqa: PLC0415

        return map_shards(jobs, record, retries=request.shard_retries,
                          retry_delay_s=request.retry_delay_s)
    return run_on_dask(jobs, request.scheduler, workers, record, dask_logs=request.dask_logs)
