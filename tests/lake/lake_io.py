"""Running the loader into a lake and reading the lake back, as a user would."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from target_parquet_lake import TargetParquet
from target_parquet_lake.load_metadata import METADATA_COLUMNS

BIN = Path(sys.executable).parent
LATEST_SQL = """
    SELECT * FROM lake
    QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _sdc_sequence DESC) = 1
"""


def run_target(config: dict[str, Any], lines: list[str]) -> None:
    """TargetParquet in-process on Singer messages (JSON lines)."""
    target = TargetParquet(config=config)
    with contextlib.redirect_stdout(io.StringIO()):
        target.listen(file_input=io.StringIO("\n".join(lines) + "\n"))


def run_cli(
    config: dict[str, Any],
    lines: list[str],
    workdir: Path,
    env: dict[str, str] | None = None,
    *,
    command: str = "target-parquet",
    args: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """A console script of the loader as a subprocess, with `--config cfg.json`."""
    cfg = workdir / "config.json"
    cfg.write_text(json.dumps(config))
    return subprocess.run(
        [str(BIN / command), "--config", str(cfg), *args],
        input="\n".join(lines) + "\n" if lines else "", capture_output=True, text=True,
        cwd=workdir, env={**os.environ, **(env or {})}, timeout=120, check=False,
    )


def dataset(filesystem: pafs.FileSystem, path: str) -> ds.Dataset:
    """A stream read the way pyarrow readers do: hive partitions, hidden files skipped."""
    return ds.dataset(path, filesystem=filesystem, format="parquet", partitioning="hive")


def latest_rows(table: pa.Table, keys: list[str]) -> list[dict[str, Any]]:
    """The documented latest-per-key query, run by DuckDB over the table."""
    lake = table  # noqa: F841 - DuckDB finds the Arrow table by its variable name
    query = LATEST_SQL.format(keys=", ".join(keys))
    relation = duckdb.sql(query)
    assert relation is not None
    return relation.to_arrow_table().to_pylist()


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith("["):
        return json.loads(value)  # the target stores arrays as JSON text
    return value


def json_shaped(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows back in the tap's JSON shapes, without load metadata (to compare with truth)."""
    return [
        {key: _json_value(value) for key, value in row.items() if key not in METADATA_COLUMNS}
        for row in rows
    ]
