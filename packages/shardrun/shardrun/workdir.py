"""The runner's work directory: one folder per shard and a manifest of their outcomes.

    <work>/manifest.json              shard count, mode, and the last outcome of each shard
    <work>/shard-k-of-N/state.json    pipe mode: the state shard k resumes from
    <work>/shard-k-of-N/summary.json  the tap's run summary of the shard's last run
    <work>/shard-k-of-N/*.log         the tap's and target's (or meltano's) stderr
    <work>/retired/<time>-of-N/       shard folders of an earlier count, after a reshard

The manifest is rewritten after every shard that finishes, so a runner that is killed
still leaves each finished shard's outcome, and the unfinished ones as `running`, which
`--rerun-failed` treats as failed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shardrun.files import load_json, write_json_atomically
from shardrun.jobs import STATUS_OK, STATUS_RUNNING, ShardResult, now_iso, shard_label
from singer_fanout.settings import Shard

MANIFEST = "manifest.json"


class WorkDirProblem(RuntimeError):
    pass


@dataclass
class Manifest:
    shard_count: int
    mode: str
    shards: dict[str, dict[str, Any]] = field(default_factory=dict)  # "k" -> outcome

    def failed(self) -> list[Shard]:
        """Shards whose last outcome is not ok (a `running` one never finished)."""
        return [
            Shard(index, self.shard_count) for index in range(1, self.shard_count + 1)
            if self.shards.get(str(index), {}).get("status") != STATUS_OK
        ]

    def mark_running(self, shard: Shard) -> None:
        entry = self.shards.setdefault(str(shard.index), {})
        entry.update(status=STATUS_RUNNING, started_at=now_iso())
        entry["attempts"] = int(entry.get("attempts", 0)) + 1

    def record(self, result: ShardResult) -> None:
        index = result.shard.split("/")[0]
        attempts = self.shards.get(index, {}).get("attempts", 1)
        outcome = result.to_json()
        outcome.pop("state", None)  # the state lives in the shard's state.json
        self.shards[index] = {**outcome, "attempts": attempts}


class WorkDir:
    def __init__(self, root: Path) -> None:
        self.root = root

    def shard_dir(self, shard: Shard) -> Path:
        return self.root / shard_label(shard)

    def state_path(self, shard: Shard) -> Path:
        return self.shard_dir(shard) / "state.json"

    def load_state(self, shard: Shard) -> dict[str, Any] | None:
        state = load_json(self.state_path(shard))
        return state if isinstance(state, dict) else None

    def save_state(self, shard: Shard, state: dict[str, Any] | None) -> None:
        if state is not None:
            self.shard_dir(shard).mkdir(parents=True, exist_ok=True)
            write_json_atomically(self.state_path(shard), state)

    def load_manifest(self) -> Manifest | None:
        data = load_json(self.root / MANIFEST)
        if not isinstance(data, dict):
            return None
        return Manifest(int(data["shard_count"]), str(data["mode"]), dict(data["shards"]))

    def save_manifest(self, manifest: Manifest) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_json_atomically(self.root / MANIFEST, {
            "shard_count": manifest.shard_count, "mode": manifest.mode,
            "shards": manifest.shards,
        })

    def shard_states(self, count: int) -> list[dict[str, Any]]:
        states = (self.load_state(Shard(index, count)) for index in range(1, count + 1))
        return [state for state in states if state is not None]

    def retire(self, count: int) -> Path:
        """Move the folders of a `count`-shard layout aside, so they cannot be resumed."""
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
        retired = self.root / "retired" / f"{stamp}-of-{count}"
        retired.mkdir(parents=True, exist_ok=True)
        for index in range(1, count + 1):
            folder = self.shard_dir(Shard(index, count))
            if folder.exists():
                folder.rename(retired / folder.name)
        return retired

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One runner per work directory: two would resume from the same states."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise WorkDirProblem(f"another runner is using {self.root}") from None
            yield
