"""target-parquet-compact on a lake of ten incremental runs: few files, same truth, and a
compaction killed at any step still leaves a lake whose latest-per-key view is the truth."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from tests.lake.compaction_runs import compact, compact_killed, write_config
from tests.lake.incremental import assert_view_is_truth, incremental_runs

pytestmark = pytest.mark.slow  # ten tap runs build the lake (~25 s)
LOCAL = pafs.LocalFileSystem()
TARGET = {"partition_cols": "date", "max_batch_size": 40}


@pytest.fixture(scope="module")
def ten_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A pristine lake after ten daily runs, and the truth; tests work on copies."""
    workdir = tmp_path_factory.mktemp("ten-runs")
    lake = workdir / "lake"
    truth = incremental_runs({"destination_path": str(lake), **TARGET}, workdir)
    return lake, truth


def copy_of(ten_runs: tuple[Path, dict], tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    shutil.copytree(ten_runs[0], lake)
    return lake


def parquet_files(lake: Path) -> list[Path]:
    return sorted(p for p in lake.rglob("*.parquet") if not p.name.startswith("."))


def test_ten_runs_then_compaction_gives_few_files_and_the_truth(ten_runs, tmp_path):
    lake, truth = copy_of(ten_runs, tmp_path), ten_runs[1]
    assert_view_is_truth(LOCAL, str(lake), truth)
    before = parquet_files(lake)
    folders = {p.parent for p in before if p.parent.name.startswith("date=")}
    config = write_config(tmp_path, {"destination_path": str(lake), **TARGET})

    result = compact(config)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "stream 'metrics':" in result.stderr

    after = parquet_files(lake)
    # One file per partition folder, one per unpartitioned stream; each holds only the
    # latest record per key, so rows == keys.
    assert len(after) == len(folders) + 2 < len(before)
    assert {p.parent for p in after if p.parent.name.startswith("date=")} == folders
    assert all("-compacted-" in p.name for p in after)
    assert_view_is_truth(LOCAL, str(lake), truth)
    assert not [p for p in lake.rglob("*") if p.is_file() and p.name.startswith(".")]

    # A second compaction has nothing to do and changes nothing.
    again = compact(config)
    assert again.returncode == 0, again.stderr[-3000:]
    assert parquet_files(lake) == after


# (kind of step, n-th such step): streams go accounts (1 new file, 10 old), metrics
# (a new file per date folder, then its old ones), services.
KILL_POINTS = [
    ("mid-write", 1),    # accounts' only new file half-written
    ("deleted", 4),      # accounts: new file complete, old ones half deleted
    ("written", 6),      # metrics: some folders rewritten, nothing of metrics deleted
    ("mid-write", 9),    # metrics: a folder's new file half-written
    ("deleted", 30),     # metrics: old files of some folders gone
]


@pytest.mark.parametrize(("kind", "at"), KILL_POINTS)
def test_compaction_killed_at_any_step_keeps_the_truth(ten_runs, tmp_path, kind, at):
    lake, truth = copy_of(ten_runs, tmp_path), ten_runs[1]
    config = write_config(tmp_path, {"destination_path": str(lake), **TARGET})

    compact_killed(config, kind, at)
    assert_view_is_truth(LOCAL, str(lake), truth)
    leftovers = list(lake.rglob(".*.tmp"))
    assert len(leftovers) == (1 if kind == "mid-write" else 0)

    # An old temp file is a killed write's: the next compaction removes it.
    for path in leftovers:
        old = time.time() - 7200
        os.utime(path, (old, old))
    result = compact(config)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_view_is_truth(LOCAL, str(lake), truth)
    assert not list(lake.rglob(".*.tmp"))
    assert all("-compacted-" in p.name for p in parquet_files(lake))


def test_compaction_on_s3_killed_then_finished_keeps_the_truth(ten_runs, tmp_path, s3):
    """The same lake in a bucket: compaction killed after writes, then after deletes."""
    bucket = s3.new_bucket()
    fs = s3.filesystem()
    pafs.copy_files(str(ten_runs[0]), f"{bucket}/lake", source_filesystem=LOCAL,
                    destination_filesystem=fs)
    root, truth = f"{bucket}/lake", ten_runs[1]
    assert_view_is_truth(fs, root, truth)
    config = write_config(tmp_path, {"destination_path": f"s3://{root}", **TARGET})

    compact_killed(config, "written", 6)
    assert_view_is_truth(fs, root, truth)
    compact_killed(config, "deleted", 20)
    assert_view_is_truth(fs, root, truth)
    result = compact(config)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_view_is_truth(fs, root, truth)
    keys = [k for k in s3.keys(bucket, "lake/") if k.endswith(".parquet")]
    assert keys
    assert all("-compacted-" in k for k in keys)
    assert s3.open_uploads(bucket) == []
