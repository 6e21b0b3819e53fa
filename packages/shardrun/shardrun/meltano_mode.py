"""Meltano mode: shard k of N as `meltano run <tap>--shard-k-of-N <target>`.

Each shard runs the extractor that inherits the real one under its shard's name (see
`shardrun.meltano_yml`, which generates them). Measured with Meltano 4.4, that is the
form that runs in parallel: an inherited plugin reuses the parent's venv (installed once)
but gets its own `.meltano/run/<name>/` folder, and its own state id by name,
`<environment>:<tap>--shard-k-of-N-to-<target>` -- the same one a scheduler running the
generated job uses. Running the *one* extractor N times at once with
`--state-id-suffix` gives separate state ids but a shared run folder: one run deletes
the catalog file another is about to read, and the tap fails.
"""

from __future__ import annotations

import os
import re
import subprocess

from shardrun.attempt import ShardAttempt
from shardrun.jobs import (
    MeltanoSpec,
    ShardJob,
    ShardResult,
    shard_label,
)
from shardrun.pipe import resolve_executable
from singer_fanout.settings import Shard


def shard_extractor(extractor: str, shard: Shard) -> str:
    return f"{extractor}--{shard_label(shard)}"


def state_id(spec: MeltanoSpec, shard: Shard) -> str:
    """Meltano's state id of the shard: `<environment>:<extractor>-to-<loader>`."""
    return f"{spec.environment}:{shard_extractor(spec.extractor, shard)}-to-{spec.loader}"


def setting_env_var(plugin: str, setting: str) -> str:
    """Meltano's environment variable for a plugin setting: `tap-a--b`, `shard` ->
    TAP_A__B_SHARD."""
    return re.sub(r"[^A-Za-z0-9]", "_", f"{plugin}_{setting}").upper()


def meltano_base(spec: MeltanoSpec) -> list[str]:
    command = [resolve_executable(spec.meltano)]
    return command + (["--environment", spec.environment] if spec.environment else [])


def meltano_command(job: ShardJob) -> list[str]:
    assert isinstance(job.spec, MeltanoSpec)
    command = [*meltano_base(job.spec), "run"]
    if job.timeout_s is not None:
        command += ["--timeout", str(max(1, round(job.timeout_s)))]
    return [*command, shard_extractor(job.spec.extractor, job.shard), job.spec.loader]


def run_meltano(job: ShardJob) -> ShardResult:
    assert isinstance(job.spec, MeltanoSpec)
    spec = job.spec
    attempt = ShardAttempt.begin(job)
    shard_dir, summary_path = attempt.shard_dir, attempt.summary_path
    plugin = shard_extractor(spec.extractor, job.shard)
    env = {
        **os.environ,
        # The runner's N wins over a stale meltano.yml; the summary comes to the work dir.
        setting_env_var(plugin, "shard"): str(job.shard),
        setting_env_var(plugin, "summary_path"): str(summary_path),
    }
    log_path = shard_dir / "meltano.log"
    with log_path.open("wb") as log:
        code = subprocess.call(  # noqa: S603 - the operator's meltano, no shell
            meltano_command(job), cwd=spec.project_root, env=env,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return attempt.result(
        ok=code == 0,
        reason=f"meltano run exited {code} (see meltano.log)",
        exit_codes={"meltano": code},
        failing_log=log_path,
    )
