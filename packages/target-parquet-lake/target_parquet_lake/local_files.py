"""Local files made visible atomically: a hidden temp file, fsync, rename.

A reader globbing `*.parquet` (DuckDB) or a dataset reader skipping dot-files
(pyarrow) never sees a half-written file, and a crash leaves at most a dot-file
behind.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

TEMP_SUFFIX = ".tmp"


def temp_path(final: Path) -> Path:
    """Where a file is written before it is renamed to `final`."""
    return final.with_name(f".{final.name}{TEMP_SUFFIX}")


def is_temp_name(name: str) -> bool:
    """A name `temp_path` makes (what a clean-up may delete once it is stale)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


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


def write_locally(table: pa.Table, final: Path, compression: str) -> None:
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
