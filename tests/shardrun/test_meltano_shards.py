"""Through Meltano: the generated inherited shard extractors, run in parallel by the
runner in a copy of this project's meltano.yml, then resharded from 2 to 1.

The one slow test of the package: `meltano install` builds the plugin venvs (about 5 s
here with a warm uv cache; the inherited shard extractors add nothing, they reuse the
parent's venv), and each `meltano` command costs a few seconds of its own start-up.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from shardrun.jobs import all_shards
from singer_fanout.settings import Shard
from tests.shardrun.conftest import (
    FIRST_DAY,
    LAST_DAY,
    REPO,
    SECRET,
    full_range_days,
    partitions,
    read_parquet,
    rerun_reads,
    services_by_account,
    truth,
)
from tests.truth import assert_matches_truth

BIN = Path(sys.executable).parent
MELTANO_TIMEOUT_S = 300


def _project(root: Path) -> None:
    """This repository's meltano.yml, installing the plugins from this checkout, with the
    shard extractors for 2 shards and for 1."""
    text = (REPO / "meltano.yml").read_text()
    text = text.replace("${MELTANO_PROJECT_ROOT}/packages/", f"{REPO}/packages/")
    root.mkdir()
    (root / "meltano.yml").write_text(text)
    (root / "meltano").mkdir()
    for count in (2, 1):
        generated = subprocess.run(
            [sys.executable, "-m", "shardrun", "meltano-yml", "--extractor", "tap-vendory",
             "--loader", "target-parquet", "--shards", str(count), "--name", "vendory",
             "--summary-dir", "${MELTANO_PROJECT_ROOT}/output/vendory"],
            cwd=REPO, capture_output=True, text=True, check=True,
        )
        # Picked up by the `include_paths` pattern of the meltano.yml's shards section.
        (root / "meltano" / f"vendory-{count}-shards.meltano.yml").write_text(generated.stdout)


def _meltano(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "meltano"), *args], cwd=root, env=env, capture_output=True,
                          text=True, check=False, timeout=MELTANO_TIMEOUT_S)


def _state_partitions(root: Path, shard: Shard) -> list[tuple[str, str]]:
    """The shard's state as Meltano stored it. Read from its system database directly:
    `meltano state get` would cost seconds of start-up per shard."""
    state_id = f"dev:tap-vendory--shard-{shard.index}-of-{shard.count}-to-target-parquet"
    with contextlib.closing(sqlite3.connect(root / ".meltano" / "meltano.db")) as db:
        row = db.execute("SELECT completed_state FROM state WHERE state_id = ?",
                         (state_id,)).fetchone()
    assert row is not None, f"no state under {state_id}"
    return partitions(json.loads(row[0])["singer_state"])


def _run_shards(root: Path, env: dict[str, str], work: Path, count: int):
    return subprocess.run(
        [sys.executable, "-m", "shardrun", "run", "--mode", "meltano", "--shards", str(count),
         "--work-dir", str(work), "--tap", "tap-vendory", "--target", "target-parquet",
         "--project-root", str(root), "--environment", "dev", "--executor", "threads",
         "--workers", str(count)],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
        timeout=MELTANO_TIMEOUT_S,
    )


@pytest.mark.slow
def test_meltano_shards_run_in_parallel_and_merge(tmp_path, sandbox_y):
    root = tmp_path / "project"
    _project(root)
    env = {
        # Nothing from the developer's own Meltano settings leaks in.
        **{k: v for k, v in os.environ.items()
           if not k.startswith(("MELTANO_", "TAP_", "TARGET_"))},
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        # The dev environment's in-process sandbox is replaced by the test's shared one;
        # the shard extractors inherit these settings from tap-vendory.
        "TAP_VENDORY_SANDBOX": "false", "TAP_VENDORY_API_URL": sandbox_y.url,
        "TAP_VENDORY_API_KEY": SECRET, "TAP_VENDORY_START_DATE": FIRST_DAY.isoformat(),
        "TAP_VENDORY_END_DATE": LAST_DAY.isoformat(),
    }
    installed = _meltano(root, env, "install")
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert installed.stderr.count("reusing parent virtualenv") == 3  # 2 + 1 shard extractors

    work = tmp_path / "work"
    first = _run_shards(root, env, work, 2)
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    output = root / "output" / "vendory"
    dataset = {stream: read_parquet(output / stream)
               for stream in ("accounts", "services", "metrics")}
    assert_matches_truth("y", dataset, truth("y"))
    for shard in all_shards(2):
        # Its own state id, holding only its own partitions; its own summary.
        mine = _state_partitions(root, shard)
        assert mine
        assert all(shard.owns(account) for account, _ in mine)
        summary = json.loads((work / f"shard-{shard.index}-of-2" / "summary.json").read_text())
        assert summary["outcome"] == "success"

    # Merging the two into one (the split direction is the pipe-mode reshard test's).
    sandbox_y.reset_stats()
    second = _run_shards(root, env, work, 1)
    assert second.returncode == 0, second.stdout + second.stderr[-3000:]
    assert "resharded 2 -> 1: the state of 2 old shard(s)" in second.stdout
    # Every service read only its days not final yet: the two states came along, merged.
    services = services_by_account("y")
    days = sandbox_y.stats()["metric_days_by_service"]
    assert days == rerun_reads("y")
    assert sorted(_state_partitions(root, Shard(1, 1))) == sorted(
        (a, s) for a, ss in services.items() for s in ss if full_range_days(s) > 0)
