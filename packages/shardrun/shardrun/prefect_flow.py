"""The shards as a Prefect 3 flow: `.map` one task per shard over prefect-dask's DaskTaskRunner.

The Prefect idiom — write the task for one item, `.map` it over the list, run it on Dask —
applied at the level where it pays: Prefect maps the *shards* (each a whole run of the tap
for its accounts, with its own state in the work directory, exactly as `shardrun` keeps
it); inside a shard the kit maps accounts -> services -> metrics itself, with per-partition
isolation, bookmarks and rate limiting that a task per partition could not keep cheaply.

- Each shard is one task run with its own Prefect state. A shard that fails (its tap or
  target exited non-zero) raises, so Prefect retries it per the task's `retries`; a retry
  resumes from the state the target confirmed before the failure and re-runs that shard
  alone. The other shards' task runs are untouched.
- The manifest, the per-shard state and summaries, `--rerun-failed` and resharding are the
  runner's (`shardrun.runner.run`), shared with the Dask and threads executors.
- Secrets stay out of Prefect: the flow's parameters name config *files*, never their
  contents; shard tasks are never cached and their results never persisted.
- Offline: with no `PREFECT_API_URL`, a local Prefect server is started on loopback for the
  run (`prefect server start`, SQLite under `PREFECT_HOME`, analytics off) and stopped
  after; the Dask workers are pointed at it.

Prefect and prefect-dask are an optional extra (`pip install 'shardrun[prefect]'`); this
module is imported only when a run asks for `--executor prefect`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import task_run as current_task_run
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect_dask import DaskTaskRunner

from shardrun.executors import quiet_dask
from shardrun.files import load_json
from shardrun.jobs import STATUS_FAILED, PipeSpec, ShardJob, ShardResult, now_iso
from shardrun.task import run_shard

logger = logging.getLogger("shardrun")

SERVER_START_TIMEOUT_S = 180.0


class ShardFailed(Exception):
    """A shard's run failed: raised so that Prefect marks its task run failed and retries it.

    It carries the shard's result (reason, summary, log tail) to the flow, which records it.
    """

    def __init__(self, result: ShardResult) -> None:
        self.result = result
        super().__init__(f"shard {result.shard} failed: {result.reason}")

    def __reduce__(self) -> tuple[type[ShardFailed], tuple[ShardResult]]:
        # It travels from the Dask worker in the task's state: rebuilt from the result, not
        # from the message (the default would call ShardFailed(message)).
        return ShardFailed, (self.result,)


class ShardsFailed(Exception):
    """Raised by the flow, after every shard is recorded, so its Prefect state is Failed."""


@task(name="shard", task_run_name="{job.label}", cache_policy=NO_CACHE, persist_result=False)
def run_shard_task(job: ShardJob) -> ShardResult:
    """One shard, as one Prefect task run; a retry resumes from what the target confirmed."""
    tries = current_task_run.get_run_count()
    if tries > 1 and isinstance(job.spec, PipeSpec):
        confirmed = load_json(Path(job.shard_dir) / "state.json")
        if isinstance(confirmed, dict):
            job = dataclasses.replace(job, state=confirmed)
    result = dataclasses.replace(run_shard(job), tries=tries)
    if not result.ok:
        raise ShardFailed(result)
    return result


def map_shards(
    jobs: Sequence[ShardJob], on_result: Callable[[ShardResult], None], *, retries: int,
    retry_delay_s: float,
) -> str:
    """Inside the flow: `.map` the shard task over the jobs; record each as it ends."""
    shard_task = run_shard_task.with_options(retries=retries, retry_delay_seconds=retry_delay_s)
    futures = shard_task.map(list(jobs))
    job_of = {id(future): job for future, job in zip(futures, jobs, strict=True)}
    for future in as_completed(list(futures)):
        on_result(_result_of(future, job_of[id(future)]))
    return _where()


def _result_of(future: PrefectFuture[ShardResult], job: ShardJob) -> ShardResult:
    try:
        return future.result()
    except ShardFailed as failed:
        return failed.result
    except Exception as error:  # the worker died, the task could not be submitted, ...
        return ShardResult(
            shard=str(job.shard), status=STATUS_FAILED,
            reason=f"the Prefect task failed: {type(error).__name__}: {error}",
            started_at=now_iso(), shard_dir=job.shard_dir,
        )


def _where() -> str:
    """Where the flow's tasks ran, for the report (best effort: the runner's client is not
    public API)."""
    from prefect.context import FlowRunContext  # noqa: PLC0415

    context = FlowRunContext.get()
    runner = context.task_runner if context else None
    client = getattr(runner, "_client", None)
    try:
        workers = len(client.scheduler_info().get("workers", {}))  # type: ignore[union-attr]
        address = client.scheduler.address  # type: ignore[union-attr]
    except AttributeError:
        return f"Prefect tasks on {type(runner).__name__}"
    return f"Prefect tasks on prefect-dask's DaskTaskRunner: scheduler {address}, " \
        f"{workers} worker(s)"


@flow(name="shardrun", log_prints=False)
def shardrun_flow(
    shards: int,
    work_dir: str,
    tap: str,
    target: str,
    *,
    tap_config: str | None = None,
    target_config: str | None = None,
    mode: str = "pipe",
    project_root: str | None = None,
    environment: str | None = None,
    rerun_failed: bool = False,
    shard_retries: int = 1,
    retry_delay_s: float = 10.0,
    shard_timeout_s: float | None = None,
) -> dict[str, Any]:
    """Run the N shards of a tap as mapped Prefect tasks; returns each shard's status.

    Parameters mirror `python -m shardrun run`: configs are paths, read here, so that no
    credential becomes a flow parameter stored by the Prefect server.
    """
    from shardrun.jobs import MeltanoSpec  # noqa: PLC0415
    from shardrun.runner import RunRequest, run  # noqa: PLC0415

    spec: PipeSpec | MeltanoSpec
    if mode == "pipe":
        if tap_config is None or target_config is None:
            raise ValueError("pipe mode needs tap_config and target_config (paths)")
        spec = PipeSpec(tap, _read_json(tap_config), target, _read_json(target_config))
    else:
        if not environment:
            raise ValueError("meltano mode needs environment (state ids depend on it)")
        spec = MeltanoSpec(tap, target, str(Path(project_root or ".").resolve()), environment)
    request = RunRequest(
        shard_count=shards, work_dir=Path(work_dir), spec=spec, rerun_failed=rerun_failed,
        executor="prefect", timeout_s=shard_timeout_s, shard_retries=shard_retries,
        retry_delay_s=retry_delay_s,
    )
    run_logger = get_run_logger()
    lines: list[str] = []

    def say(line: str) -> None:
        # The report goes to stdout as with the other executors, and to the flow run's log.
        print(line, flush=True)
        lines.append(line)
        run_logger.info("%s", line)

    code = run(request, say=say)
    manifest = _read_json(str(Path(work_dir).resolve() / "manifest.json"))
    statuses = {key: entry.get("status") for key, entry in manifest.get("shards", {}).items()}
    if code != 0:
        failed = sorted(key for key, status in statuses.items() if status != "ok")
        raise ShardsFailed(f"shard(s) {', '.join(failed)} of {shards} failed; see the report "
                           f"and {work_dir}/manifest.json")
    return {"exit_code": code, "shards": statuses, "report": lines}


def _read_json(path: str) -> dict[str, Any]:
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


# --- running the flow from the command line ------------------------------------------------


def task_runner(scheduler: str | None, workers: int) -> DaskTaskRunner:
    """prefect-dask's runner: an existing scheduler, or a LocalCluster of worker processes
    with one thread each (a worker runs one shard at a time) and no dashboard."""
    if scheduler:
        return DaskTaskRunner(address=scheduler)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": max(1, workers), "threads_per_worker": 1,
                        "processes": True, "dashboard_address": None},
    )


def run_flow(
    parameters: dict[str, Any], *, scheduler: str | None, workers: int, dask_logs: bool = False,
) -> int:
    """Run `shardrun_flow` to its end; 0 when every shard succeeded, 1 when any failed."""
    # Prefect's HTTP client logs every API call at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with prefect_api(), quiet_dask(dask_logs):
        # DaskTaskRunner's futures are PrefectFutures; the generic parameter does not say so.
        runner: Any = task_runner(scheduler, workers)
        state = shardrun_flow.with_options(task_runner=runner)(**parameters, return_state=True)
    if state.is_completed():
        return 0
    error = state.result(raise_on_failure=False)
    if isinstance(error, ShardsFailed):
        return 1
    if isinstance(error, BaseException):
        raise error
    raise RuntimeError(f"the flow ended in state {state.type}: {state.message}")


@contextlib.contextmanager
def prefect_api() -> Iterator[str]:
    """The Prefect API this run talks to: `PREFECT_API_URL` when set, else a local server
    started for the run on loopback (its URL also exported for the Dask workers)."""
    configured = os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()
    if configured:
        yield configured
        return
    port = _free_loopback_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_UI_ENABLED": "false", "PREFECT_SERVER_LOGGING_LEVEL": "WARNING"}
    home = Path(env.get("PREFECT_HOME", Path.home() / ".prefect"))
    home.mkdir(parents=True, exist_ok=True)
    with (home / "shardrun-server.log").open("ab") as log:
        # The operator's own Prefect, run as a module of this interpreter, without a shell.
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", str(port), "--no-services", "--analytics-off", "--no-ui"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(url, server)
        logger.info("started a local Prefect server at %s (SQLite under %s)", url, home)
        previous = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = url  # for the Dask worker processes
        try:
            with temporary_settings(updates={PREFECT_API_URL: url}):
                yield url
        finally:
            if previous is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = previous
    finally:
        _drain_prefect_clients()
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _drain_prefect_clients() -> None:
    """Send the logs and events Prefect still holds before its server goes away."""
    from prefect.events.worker import EventsWorker  # noqa: PLC0415
    from prefect.logging.handlers import APILogWorker  # noqa: PLC0415

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            worker.drain_all(timeout=5)


def _wait_until_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the local Prefect server exited with code {server.returncode}; "
                               "see shardrun-server.log under PREFECT_HOME")
        try:
            # Our own server on loopback, just started.
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the local Prefect server at {url} did not answer within "
                       f"{SERVER_START_TIMEOUT_S:.0f}s")


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
