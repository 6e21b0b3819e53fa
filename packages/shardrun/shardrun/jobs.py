"""What a worker is asked to run (`ShardJob`) and what it hands back (`ShardResult`).

Both travel between the runner and Dask workers, so they are plain picklable dataclasses
holding plain data: configs as dicts, paths as strings.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import asdict, dataclass, field
from typing import Any

from singer_fanout.settings import Shard

STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_RUNNING = "running"  # in the manifest while a shard runs; a crashed runner leaves it


def shard_label(shard: Shard) -> str:
    """`shard-2-of-4`: a name usable in paths, Meltano state ids and task keys."""
    return f"shard-{shard.index}-of-{shard.count}"


def all_shards(count: int) -> list[Shard]:
    return [Shard(index, count) for index in range(1, count + 1)]


@dataclass(frozen=True)
class PipeSpec:
    """`tap --config <tap_config + shard> --state <state> | target --config <target_config>`."""

    tap: str
    tap_config: dict[str, Any]
    target: str
    target_config: dict[str, Any]


@dataclass(frozen=True)
class MeltanoSpec:
    """`meltano run <extractor>--shard-k-of-N <loader>` in a project (see meltano_mode)."""

    extractor: str
    loader: str
    project_root: str
    environment: str | None = None
    meltano: str = "meltano"


@dataclass(frozen=True)
class ShardJob:
    shard: Shard
    # The shard's scratch directory as the worker sees it: configs, logs, summary, state.
    shard_dir: str
    spec: PipeSpec | MeltanoSpec
    # Pipe mode: the state the shard resumes from. The runner sends it with the job rather
    # than relying on the worker finding it on disk, so a worker elsewhere resumes too.
    state: dict[str, Any] | None = None
    timeout_s: float | None = None

    @property
    def label(self) -> str:
        return shard_label(self.shard)


@dataclass
class ShardResult:
    shard: str  # "k/N"
    status: str
    reason: str = ""
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    # The run summary the tap wrote (its `summary_path`), when it got that far.
    summary: dict[str, Any] | None = None
    # Pipe mode: the last state the target confirmed (its records are on disk).
    state: dict[str, Any] | None = None
    started_at: str = ""
    duration_s: float = 0.0
    ran_on: str = ""  # host:pid of the process that ran the shard
    shard_dir: str = ""
    # The last lines of the failing process's log, for workers whose disk the runner can't see.
    log_tail: str = ""
    # Runs of the shard within this runner run: more than 1 when Prefect retried it.
    tries: int = 1

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShardResult:
        names = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in names})


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
