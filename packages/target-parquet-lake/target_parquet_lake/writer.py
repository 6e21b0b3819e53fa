"""Writing one flush of a stream: partitioning, size roll-over, atomic files.

File names: `<stream>-<YYYYMMDD_HHMMSS>_<run>-<n>-<i><ext>` where
  * `YYYYMMDD_HHMMSS` is the target's start time (UTC), as in the hub variant;
  * `<run>` is 8 random hex digits drawn once per target run, so two runs started in
    the same second never produce the same name;
  * `n` numbers the stream's flushes in this run (0, 1, ...), also across a SCHEMA
    change, so file order follows record order;
  * `i` numbers the parts of one flush (0, 1, ...) when its table is larger than
    `max_pyarrow_table_size`; with partition_cols it counts within each partition
    directory;
  * `<ext>` is `.<compression>.parquet`, or `.parquet` for `none`.

Each file becomes visible under its final name only when complete (see `storage`).
"""

from __future__ import annotations

import datetime
import typing as t
from dataclasses import dataclass
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc

if t.TYPE_CHECKING:
    from target_parquet_lake.storage import Lake

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
# Characters kept verbatim in a partition directory name; everything else is
# percent-encoded, which both pyarrow's hive partitioning and DuckDB decode.
_SEGMENT_SAFE = " -_.~@,:"


def run_stamp(started_at: datetime.datetime, token: str) -> str:
    """`YYYYMMDD_HHMMSS_<token>`: the run part shared by all of a run's file names."""
    return f"{started_at.astimezone(datetime.timezone.utc):%Y%m%d_%H%M%S}_{token}"


def stream_dir_name(stream_name: str) -> str:
    """The stream's folder name under destination_path."""
    # A stream name is a single path component; separators would escape the layout.
    return stream_name.replace("/", "_").replace("\\", "_")


def file_name(stream_name: str, stamp: str, flush: int, part: int, extension: str) -> str:
    """The final file name of one part of one flush."""
    return f"{stream_name}-{stamp}-{flush}-{part}{extension}"


def split_by_size(table: pa.Table, max_bytes: int) -> list[pa.Table]:
    """Slice a table into parts of about `max_bytes` each (by average row size).

    Slices are zero-copy and keep row order, so the parts hold exactly the table's
    rows, each once. A part has at least one row, however wide that row is.
    """
    rows = table.num_rows
    if rows <= 1 or table.nbytes <= max_bytes:
        return [table]
    rows_per_part = max(1, int(rows * max_bytes / table.nbytes))
    return [table.slice(start, rows_per_part) for start in range(0, rows, rows_per_part)]


def _segment_value(value: object) -> str:
    if value is None:
        return HIVE_NULL
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime.date):  # datetime is a date too
        text = value.isoformat()
    else:
        text = str(value)
    return quote(text, safe=_SEGMENT_SAFE) if text else HIVE_NULL


def split_partitions(
    table: pa.Table,
    partition_cols: t.Sequence[str],
) -> list[tuple[str, pa.Table]]:
    """Hive-partition a table: (relative `col=value/...` dir, rows without the cols).

    Row order is kept within each partition. Partition columns are left out of the
    files, as in Hive and pyarrow's write_to_dataset: readers take them from the path.
    """
    keys = table.select(list(partition_cols))
    combos = keys.group_by(list(partition_cols), use_threads=False).aggregate([]).to_pylist()
    data = table.drop_columns(list(partition_cols))
    out: list[tuple[str, pa.Table]] = []
    for combo in combos:
        mask = None
        for col in partition_cols:
            value = combo[col]
            if value is None:
                cond = pc.is_null(keys[col])
            else:
                key = pa.scalar(value, keys.schema.field(col).type)
                cond = pc.fill_null(pc.equal(keys[col], key), False)
            mask = cond if mask is None else pc.and_(mask, cond)
        rel = "/".join(f"{col}={_segment_value(combo[col])}" for col in partition_cols)
        out.append((rel, data.filter(mask)))
    return out


@dataclass(frozen=True)
class StreamWriter:
    """Writes a stream's flushes under `<destination_path>/<stream>/`."""

    lake: Lake
    directory: str  # the stream's folder, a path in `lake.fs`
    stream_name: str
    stamp: str
    compression: str
    extension: str
    max_table_bytes: int
    partition_cols: tuple[str, ...] = ()

    def write(self, table: pa.Table, flush: int) -> list[str]:
        """Write one flush; returns the files written, in order."""
        if self.partition_cols:
            groups = split_partitions(table, self.partition_cols)
        else:
            groups = [("", table)]
        written: list[str] = []
        for rel, group in groups:
            for part, chunk in enumerate(split_by_size(group, self.max_table_bytes)):
                name = file_name(self.stream_name, self.stamp, flush, part, self.extension)
                final = "/".join(p for p in (self.directory, rel, name) if p)
                self.lake.write_parquet(chunk, final, self.compression)
                written.append(final)
        return written
