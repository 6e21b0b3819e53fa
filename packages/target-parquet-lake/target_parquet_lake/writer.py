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

Each file is written to `.<final name>.tmp` in the same directory, fsynced, then
renamed onto its final name: a reader globbing `*.parquet` (DuckDB) or a dataset
reader skipping dot-files (pyarrow) never sees a half-written file, and a crash
leaves at most a dot-file behind.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import typing as t
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
# Characters kept verbatim in a partition directory name; everything else is
# percent-encoded, which both pyarrow's hive partitioning and DuckDB decode.
_SEGMENT_SAFE = " -_.~@,:"


def run_stamp(started_at: datetime.datetime, token: str) -> str:
    """`YYYYMMDD_HHMMSS_<token>`: the run part shared by all of a run's file names."""
    return f"{started_at.astimezone(datetime.timezone.utc):%Y%m%d_%H%M%S}_{token}"


def file_name(stream_name: str, stamp: str, flush: int, part: int, extension: str) -> str:
    """The final file name of one part of one flush."""
    return f"{stream_name}-{stamp}-{flush}-{part}{extension}"


def temp_path(final: Path) -> Path:
    """Where a file is written before it is renamed to `final`."""
    return final.with_name(f".{final.name}.tmp")


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
) -> list[tuple[Path, pa.Table]]:
    """Hive-partition a table: (relative `col=value/...` dir, rows without the cols).

    Row order is kept within each partition. Partition columns are left out of the
    files, as in Hive and pyarrow's write_to_dataset: readers take them from the path.
    """
    keys = table.select(list(partition_cols))
    combos = keys.group_by(list(partition_cols), use_threads=False).aggregate([]).to_pylist()
    data = table.drop_columns(list(partition_cols))
    out: list[tuple[Path, pa.Table]] = []
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
        rel = Path(*(f"{col}={_segment_value(combo[col])}" for col in partition_cols))
        out.append((rel, data.filter(mask)))
    return out


def _fsync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry is; not every platform
    # lets a directory be opened for that, which is no reason to fail the write.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(table: pa.Table, final: Path, compression: str) -> None:
    """Write `table` to `final` via a temp file, fsync and rename.

    Raises:
        FileExistsError: if `final` exists; a file is never overwritten.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        msg = f"Refusing to overwrite existing file {final}"
        raise FileExistsError(msg)
    tmp = temp_path(final)
    try:
        with tmp.open("wb") as handle:
            pq.write_table(table, handle, compression=compression)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(final.parent)


@dataclass(frozen=True)
class StreamWriter:
    """Writes a stream's flushes under `<destination_path>/<stream>/`."""

    directory: Path
    stream_name: str
    stamp: str
    compression: str
    extension: str
    max_table_bytes: int
    partition_cols: tuple[str, ...] = ()

    def write(self, table: pa.Table, flush: int) -> list[Path]:
        """Write one flush; returns the files written, in order."""
        if self.partition_cols:
            groups = split_partitions(table, self.partition_cols)
        else:
            groups = [(Path(), table)]
        written: list[Path] = []
        for rel, group in groups:
            for part, chunk in enumerate(split_by_size(group, self.max_table_bytes)):
                name = file_name(self.stream_name, self.stamp, flush, part, self.extension)
                final = self.directory / rel / name
                write_atomically(chunk, final, self.compression)
                written.append(final)
        return written
