"""Carrying Meltano-held shard state from N shards to M, through `meltano state get/set`."""

from __future__ import annotations

import json
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from shardrun.jobs import MeltanoSpec, all_shards
from shardrun.meltano_mode import meltano_base, state_id
from shardrun.state_merge import merge_states, state_for_shard

MELTANO_TIMEOUT_S = 300
PARALLEL_CALLS = 4


def _meltano(spec: MeltanoSpec, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the operator's meltano, no shell
        [*meltano_base(spec), "state", *args], cwd=spec.project_root, capture_output=True,
        text=True, check=False, timeout=MELTANO_TIMEOUT_S, stdin=subprocess.DEVNULL)


def get_state(spec: MeltanoSpec, identifier: str) -> dict[str, Any] | None:
    """The Singer state under `identifier`, or None when Meltano has none."""
    got = _meltano(spec, "get", identifier)
    if got.returncode != 0 or not got.stdout.strip():
        return None
    state = json.loads(got.stdout).get("singer_state")
    return state if isinstance(state, dict) else None


def set_state(spec: MeltanoSpec, identifier: str, state: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.json"
        path.write_text(json.dumps({"singer_state": state}))
        done = _meltano(spec, "set", "--force", identifier, "--input-file", str(path))
    if done.returncode != 0:
        raise RuntimeError(f"meltano state set {identifier} failed: {done.stderr[-2000:]}")


def carry_over(spec: MeltanoSpec, old_count: int, new_count: int) -> int:
    """Split the old shards' states among the new ones; returns how many old ones had one.

    Each `meltano state` call spends seconds starting Meltano, so they run side by side.
    """
    with ThreadPoolExecutor(max_workers=PARALLEL_CALLS) as pool:
        old = list(pool.map(lambda shard: get_state(spec, state_id(spec, shard)),
                            all_shards(old_count)))
        found = [state for state in old if state is not None]
        if found:
            merged = merge_states(found)
            list(pool.map(
                lambda shard: set_state(spec, state_id(spec, shard),
                                        state_for_shard(merged, shard)),
                all_shards(new_count)))
    return len(found)
