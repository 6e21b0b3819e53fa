"""Compaction: rewrite a stream's files into few large ones, latest record per key.

Groups: one per Hive partition folder when the partition columns are part of the key
(then no key spans two folders, and memory holds one folder at a time); otherwise the
whole stream is one group, written back into its partition folders. An unpartitioned
stream is one group written as one file per month of its first date-like key column (one
file when it has none).

Never losing a key: in each group the new files are written (each appears only
complete) before any old file is deleted, and kept records keep their `_sdc_sequence`.
Killed at any point, the lake holds the old files, or some new and old ones, or only
new ones; in every case the row with the largest `_sdc_sequence` per key is the same
record, so the latest-per-key view does not change. Files a load adds while compaction
runs are not listed, hence never deleted, and sort after (larger sequences).
"""

from __future__ import annotations

import datetime
import posixpath
import time
import typing as t
import uuid
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from target_parquet_lake.load_metadata import SEQUENCE, key_properties_of
from target_parquet_lake.local_files import is_temp_name
from target_parquet_lake.writer import run_stamp, split_by_size

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from target_parquet_lake.storage import Lake

COMPACTED = "compacted"
# A temp file this old belongs to no running write (a write takes seconds).
STALE_TEMP_S = 3600
_ROW = "__target_parquet_row"
_FOLDER = "__target_parquet_folder"


class CompactionRefused(Exception):
    """The stream cannot be compacted safely; the message says why."""


@dataclass
class Group:
    """Files compacted together, and the folder (relative to the stream) they go to."""

    folder: str  # "" for the whole stream
    files: list[pafs.FileInfo] = field(default_factory=list)


@dataclass
class StreamReport:
    """What one stream's compaction did."""

    stream: str
    files_before: int = 0
    bytes_before: int = 0
    rows_before: int = 0
    files_after: int = 0
    bytes_after: int = 0
    rows_after: int = 0
    temp_files_removed: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        """One summary line for the log."""
        return (
            f"stream '{self.stream}': {self.files_before} files ({self.bytes_before} bytes, "
            f"{self.rows_before} rows) -> {self.files_after} files ({self.bytes_after} bytes, "
            f"{self.rows_after} rows) in {self.seconds:.2f}s"
        )


@dataclass(frozen=True)
class Compactor:
    """Compacts the streams of one lake with the target's file settings."""

    lake: Lake
    compression: str
    extension: str
    max_table_bytes: int
    log: Callable[[str], None] = print

    def streams(self) -> list[str]:
        """The stream folders under destination_path."""
        selector = pafs.FileSelector(self.lake.root, allow_not_found=True)
        return sorted(
            posixpath.basename(i.path)
            for i in self.lake.fs.get_file_info(selector)
            if i.type == pafs.FileType.Directory and not _hidden(posixpath.basename(i.path))
        )

    def compact(self, stream: str) -> StreamReport:
        """Compact one stream.

        Raises:
            CompactionRefused: no files, no primary key, files without `_sdc_sequence`,
                or files that disagree on the key or the partition columns.
        """
        started = time.perf_counter()
        report = StreamReport(stream)
        directory = self.lake.path(stream)
        data, report.temp_files_removed = self._list(directory)
        if not data:
            msg = f"stream '{stream}': no Parquet files under {self.lake.uri(directory)}"
            raise CompactionRefused(msg)
        report.files_before = len(data)
        report.bytes_before = sum(i.size or 0 for i in data)
        schemas = {i.path: pq.read_schema(i.path, filesystem=self.lake.fs) for i in data}
        keys = _primary_key(stream, schemas)
        partition_cols = _partition_cols(stream, directory, data)
        stamp = run_stamp(datetime.datetime.now(tz=datetime.timezone.utc), uuid.uuid4().hex[:8])
        for number, group in enumerate(_groups(directory, data, partition_cols, keys)):
            if len(group.files) == 1 and f"-{COMPACTED}-" in posixpath.basename(
                group.files[0].path,
            ):
                rows = self._count(group.files[0].path)
                report.rows_before += rows
                report.rows_after += rows
                report.files_after += 1
                report.bytes_after += group.files[0].size or 0
                continue  # already one compacted file
            written, rows_in, rows_out = self._rewrite(
                stream,
                directory=directory,
                group=group,
                keys=keys,
                partition_cols=partition_cols,
                name_stem=f"{stamp}-{number}",
            )
            report.rows_before += rows_in
            report.rows_after += rows_out
            report.files_after += len(written)
            report.bytes_after += sum(
                self.lake.fs.get_file_info(path).size or 0 for path in written
            )
            # Only now, with every new file of the group complete, do old ones go.
            for info in group.files:
                if info.path not in written:
                    self.lake.delete(info.path)
        report.seconds = time.perf_counter() - started
        return report

    def _list(self, directory: str) -> tuple[list[pafs.FileInfo], int]:
        data: list[pafs.FileInfo] = []
        removed = 0
        now = time.time()
        for info in self.lake.list_files(directory):
            name = posixpath.basename(info.path)
            if is_temp_name(name):
                mtime = info.mtime.timestamp() if info.mtime else now
                if now - mtime > STALE_TEMP_S:
                    self.lake.delete(info.path)  # left by a killed write
                    removed += 1
            elif name.endswith(".parquet") and not any(
                _hidden(part) for part in posixpath.relpath(info.path, directory).split("/")
            ):
                data.append(info)  # exactly what the readers' globs see
        return data, removed

    def _count(self, path: str) -> int:
        return int(pq.ParquetFile(path, filesystem=self.lake.fs).metadata.num_rows)

    def _read(self, group: Group, directory: str, partition_cols: list[str]) -> pa.Table:
        tables = []
        for info in group.files:
            table = pq.read_table(info.path, filesystem=self.lake.fs)
            if partition_cols:
                # Partition values live in the folder names, not in the files: bring them
                # back (as the folder spells them) so keys that include them compare.
                folder = posixpath.dirname(posixpath.relpath(info.path, directory))
                values = dict(s.split("=", 1) for s in folder.split("/"))
                for col in partition_cols:
                    table = table.append_column(col, pa.repeat(pa.scalar(values[col]), len(table)))
                table = table.append_column(_FOLDER, pa.repeat(pa.scalar(folder), len(table)))
            tables.append(table)
        # Columns a stream gained over time are null in older files; an integer column
        # that became a number is widened.
        return pa.concat_tables(tables, promote_options="permissive")

    def _rewrite(
        self,
        stream: str,
        *,
        directory: str,
        group: Group,
        keys: list[str],
        partition_cols: list[str],
        name_stem: str,
    ) -> tuple[list[str], int, int]:
        table = self._read(group, directory, partition_cols)
        latest = latest_per_key(table, keys)
        schema_metadata = table.schema.metadata
        written: list[str] = []
        for folder, period, rows in _outputs(latest, keys, partition_cols):
            out = rows.drop_columns([*partition_cols, _FOLDER] if partition_cols else [])
            out = out.replace_schema_metadata(schema_metadata)
            label = f"{stream}-{COMPACTED}{f'-{period}' if period else ''}-{name_stem}"
            for part, chunk in enumerate(split_by_size(out, self.max_table_bytes)):
                name = f"{label}-{part}{self.extension}"
                path = "/".join(p for p in (directory, folder, name) if p)
                self.lake.write_parquet(chunk, path, self.compression)
                written.append(path)
        return written, table.num_rows, latest.num_rows


def _outputs(
    latest: pa.Table,
    keys: list[str],
    partition_cols: list[str],
) -> list[tuple[str, str, pa.Table]]:
    """(folder, period, rows) of each new file: per partition folder, or per month."""
    if partition_cols:
        folders = sorted(pc.unique(latest[_FOLDER]).to_pylist())
        return [(f, "", latest.filter(pc.equal(latest[_FOLDER], f))) for f in folders]
    return [("", period, rows) for period, rows in _by_month(latest, keys)]


def latest_per_key(table: pa.Table, keys: list[str]) -> pa.Table:
    """The row with the largest `_sdc_sequence` per key, sorted by key."""
    ordered = table.take(pc.sort_indices(table, sort_keys=[(SEQUENCE, "ascending")]))
    numbered = ordered.append_column(_ROW, pa.array(range(len(ordered)), pa.int64()))
    last = numbered.select([*keys, _ROW]).group_by(keys, use_threads=False).aggregate(
        [(_ROW, "max")],
    )
    kept = ordered.take(last[f"{_ROW}_max"])
    return kept.sort_by([(k, "ascending") for k in keys])


def _by_month(table: pa.Table, keys: list[str]) -> list[tuple[str, pa.Table]]:
    date_key = next(
        (k for k in keys if pa.types.is_date(table.schema.field(k).type)
         or pa.types.is_timestamp(table.schema.field(k).type)),
        None,
    )
    if date_key is None:
        return [("", table)]
    months = pc.strftime(table[date_key], format="%Y-%m")
    out = []
    for month in pc.unique(months).to_pylist():
        mask = pc.is_null(months) if month is None else pc.fill_null(pc.equal(months, month),
                                                                       False)
        out.append((month or "none", table.filter(mask)))
    return out


def _hidden(name: str) -> bool:
    # What pyarrow.dataset skips; DuckDB's `*.parquet` glob never matches these names.
    return name.startswith((".", "_"))


def _primary_key(stream: str, schemas: dict[str, pa.Schema]) -> list[str]:
    found = {json_key(key_properties_of(s)) for s in schemas.values()}
    if len(found) > 1:
        msg = (
            f"stream '{stream}': its files disagree on the primary key "
            f"({', '.join(sorted(found))}); compaction would merge records of different "
            "keys, so it refuses"
        )
        raise CompactionRefused(msg)
    keys = key_properties_of(next(iter(schemas.values())))
    if not keys:
        msg = (
            f"stream '{stream}' has no primary key (its SCHEMA messages carried no "
            "key_properties), so there is no 'latest record per key' to keep: "
            "refusing to compact it"
        )
        raise CompactionRefused(msg)
    lacking = [p for p, s in schemas.items() if SEQUENCE not in s.names]
    if lacking:
        msg = (
            f"stream '{stream}': {len(lacking)} file(s) have no {SEQUENCE} column (written "
            "with add_record_metadata off), so which record is latest is unknown: refusing"
        )
        raise CompactionRefused(msg)
    return keys


def json_key(keys: list[str] | None) -> str:
    """A key list as text, for messages and set membership."""
    return "none" if keys is None else "[" + ", ".join(keys) + "]"


def _partition_cols(stream: str, directory: str, files: list[pafs.FileInfo]) -> list[str]:
    layouts = set()
    for info in files:
        folder = posixpath.dirname(posixpath.relpath(info.path, directory))
        segments = [s for s in folder.split("/") if s] if folder else []
        layouts.add(tuple(s.split("=", 1)[0] for s in segments))
    if len(layouts) > 1:
        shown = "; ".join("/".join(c) or "(unpartitioned)" for c in sorted(layouts))
        msg = f"stream '{stream}': its files use different partition layouts ({shown}): refusing"
        raise CompactionRefused(msg)
    return list(layouts.pop())


def _groups(
    directory: str,
    files: list[pafs.FileInfo],
    partition_cols: list[str],
    keys: list[str],
) -> list[Group]:
    if partition_cols and set(partition_cols) <= set(keys):
        by_folder: dict[str, Group] = {}
        for info in files:
            folder = posixpath.dirname(posixpath.relpath(info.path, directory))
            by_folder.setdefault(folder, Group(folder)).files.append(info)
        return [by_folder[f] for f in sorted(by_folder)]
    return [Group("", list(files))]
