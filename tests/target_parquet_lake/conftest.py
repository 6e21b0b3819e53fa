"""Shared helpers for the target-parquet tests: build Singer messages, run the target
(in-process or as the real CLI), read the Parquet back.

Everything is reached through the `tp` fixture rather than imported from this
module, so the tests do not depend on pytest's import mode.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from target_parquet_lake import TargetParquet
from target_parquet_lake.load_metadata import METADATA_COLUMNS

METRICS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "account_id": {"type": "integer"},
        "service_id": {"type": "string"},
        "date": {"type": "string", "format": "date"},
        "requests": {"type": "integer"},
        "cost": {"type": ["null", "number"]},
    },
}
METRICS_KEYS = ["account_id", "service_id", "date"]


class Messages:
    """Builds a Singer message stream as JSON lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def schema(
        self,
        stream: str,
        schema: dict[str, Any],
        keys: list[str] | None = None,
    ) -> Messages:
        message = {"type": "SCHEMA", "stream": stream, "schema": schema}
        self.lines.append(json.dumps({**message, "key_properties": keys or []}))
        return self

    def record(self, stream: str, record: dict[str, Any]) -> Messages:
        self.lines.append(json.dumps({"type": "RECORD", "stream": stream, "record": record}))
        return self

    def records(self, stream: str, records: list[dict[str, Any]]) -> Messages:
        for record in records:
            self.record(stream, record)
        return self

    def state(self, value: dict[str, Any]) -> Messages:
        self.lines.append(json.dumps({"type": "STATE", "value": value}))
        return self

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def metrics_rows(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "account_id": i % 5,
            "service_id": f"svc-{i}",
            "date": f"2026-01-{(i % 3) + 1:02d}",
            "requests": i,
            "cost": i / 4,
        }
        for i in range(start, start + count)
    ]


def _cli_command() -> list[str]:
    script = Path(sys.executable).parent / "target-parquet"
    if script.exists():
        return [str(script)]
    found = shutil.which("target-parquet")
    return [found] if found else [sys.executable, "-m", "target_parquet_lake"]


def parquet_files(root: Path) -> list[Path]:
    """Final-named Parquet files under root (what a `**/*.parquet` glob sees)."""
    return sorted(root.rglob("*.parquet"))


class Harness:
    """Runs the target into a fresh output directory and reads the result back."""

    metrics_schema = METRICS_SCHEMA
    metrics_keys = METRICS_KEYS

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.out = tmp_path / "out"

    @staticmethod
    def messages() -> Messages:
        return Messages()

    @staticmethod
    def metrics_messages() -> Messages:
        """Messages starting with the `metrics` stream's SCHEMA."""
        return Messages().schema("metrics", METRICS_SCHEMA, METRICS_KEYS)

    @staticmethod
    def metrics(count: int, start: int = 0) -> list[dict[str, Any]]:
        return metrics_rows(count, start)

    def config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {"destination_path": str(self.out), **config}

    def run(self, msgs: Messages, **config: Any) -> list[dict[str, Any]]:
        """Run TargetParquet in-process; returns the STATE messages it printed."""
        target = TargetParquet(config=self.config(config))
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            target.listen(file_input=io.StringIO(msgs.text()))
        return [json.loads(line) for line in stdout.getvalue().splitlines() if line]

    def cli(self, msgs: Messages, **config: Any) -> subprocess.CompletedProcess[str]:
        """Run the real CLI: `target-parquet --config cfg.json < messages`."""
        cfg = self.tmp_path / "config.json"
        cfg.write_text(json.dumps(self.config(config)))
        return subprocess.run(
            [*_cli_command(), "--config", str(cfg)],
            input=msgs.text(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def files(self, stream: str = "") -> list[Path]:
        return parquet_files(self.out / stream if stream else self.out)

    def glob(self, stream: str) -> str:
        """The glob a reader would use for a stream's files, partitions included."""
        return f"{self.out}/{stream}/**/*.parquet"

    @staticmethod
    def without_metadata(table: pa.Table) -> pa.Table:
        """The stream's own columns: no load metadata columns, no schema metadata."""
        kept = [name for name in table.column_names if name not in METADATA_COLUMNS]
        return table.select(kept).replace_schema_metadata(None)

    def read(self, stream: str) -> pa.Table:
        """All rows of a stream (partitions included), exactly as stored in the files."""
        # ParquetFile reads the file's contents only (no hive columns from the path).
        tables = [pq.ParquetFile(path).read() for path in self.files(stream)]
        return pa.concat_tables(tables) if tables else pa.table({})


@pytest.fixture
def tp(tmp_path: Path) -> Harness:
    return Harness(tmp_path)
