"""Meltano mode: one shard as `meltano run --state-id-suffix shard-k-of-N <tap> <target>`.

The shard and its summary path reach the extractor as Meltano setting environment
variables (`<PLUGIN>_SHARD`, `<PLUGIN>_SUMMARY_PATH`), which override meltano.yml, so any
N runs from the one extractor definition and its one installed venv. Meltano keeps each
shard's state under its own state id: `<environment>:<tap>-to-<target>:shard-k-of-N`.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from shardrun.jobs import (
    STATUS_FAILED,
    STATUS_OK,
    MeltanoSpec,
    ShardJob,
    ShardResult,
    now_iso,
    this_process,
)
from shardrun.pipe import load_json, log_tail, resolve_executable


def setting_env_var(plugin: str, setting: str) -> str:
    """Meltano's environment variable for a plugin setting: `tap-foo`, `shard` -> TAP_FOO_SHARD."""
    return re.sub(r"[^A-Za-z0-9]", "_", f"{plugin}_{setting}").upper()


def meltano_command(job: ShardJob) -> list[str]:
    assert isinstance(job.spec, MeltanoSpec)
    spec = job.spec
    command = [resolve_executable(spec.meltano)]
    if spec.environment:
        command += ["--environment", spec.environment]
    command += ["run", "--state-id-suffix", job.label]
    if job.timeout_s is not None:
        command += ["--timeout", str(max(1, round(job.timeout_s)))]
    return [*command, spec.extractor, spec.loader]


def run_meltano(job: ShardJob) -> ShardResult:
    assert isinstance(job.spec, MeltanoSpec)
    spec = job.spec
    started, clock = now_iso(), time.monotonic()
    shard_dir = Path(job.shard_dir)
    shard_dir.mkdir(parents=True, exist_ok=True)
    summary_path = shard_dir / "summary.json"
    summary_path.unlink(missing_ok=True)
    env = {
        **os.environ,
        setting_env_var(spec.extractor, "shard"): str(job.shard),
        setting_env_var(spec.extractor, "summary_path"): str(summary_path),
    }
    log_path = shard_dir / "meltano.log"
    with log_path.open("wb") as log:
        code = subprocess.call(  # noqa: S603 - the operator's meltano, no shell
            meltano_command(job), cwd=spec.project_root, env=env,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    ok = code == 0
    return ShardResult(
        shard=str(job.shard),
        status=STATUS_OK if ok else STATUS_FAILED,
        reason="" if ok else f"meltano run exited {code} (see meltano.log)",
        exit_codes={"meltano": code},
        summary=load_json(summary_path),
        started_at=started,
        duration_s=round(time.monotonic() - clock, 3),
        ran_on=this_process(),
        shard_dir=str(shard_dir),
        log_tail="" if ok else log_tail(log_path),
    )
