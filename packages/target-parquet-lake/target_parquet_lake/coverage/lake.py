"""Reading a lake the way target-parquet writes it, on any pyarrow filesystem.

Layout (README "Output layout"): `<lake>/<vendor>/<stream>/[col=value/...]<file>.parquet`,
where `<lake>/<vendor>` is one run's `destination_path` (Meltano: `output/<load_schema>`), and
the tap's run summary may sit beside the streams as `<lake>/<vendor>/_run_summary*.json`.
Hidden `.tmp` files and `_`-prefixed names are skipped, as DuckDB and pyarrow readers do.

A location is a local path or a URI, resolved by the loader's own `storage.resolve_lake`:
the schemes, `storage_options` and environment (AWS_*, ...) that work for destination_path
work here.
"""

from __future__ import annotations

import datetime
import json
import posixpath
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from target_parquet_lake.coverage.finality import NotFinalRule, not_final
from target_parquet_lake.storage import DestinationError, redact, resolve_lake
from target_parquet_lake.storage import Lake as StoreLake

if TYPE_CHECKING:
    from collections.abc import Mapping

METRICS_STREAM = "metrics"
SERVICES_STREAM = "services"
KEY_COLUMNS = ("account_id", "service_id")
DATE_COLUMN = "date"
SUMMARY_PREFIX = "_run_summary"
IGNORED_PREFIXES = [".", "_"]
READ_THREADS = 8


class LakeError(Exception):
    """The lake cannot be read as target-parquet output; the message says why and where."""


@dataclass(frozen=True)
class Lake:
    """A lake root on a filesystem, resolved as the loader resolves destination_path."""

    store: StoreLake

    @property
    def filesystem(self) -> pafs.FileSystem:
        return self.store.fs

    @property
    def root(self) -> str:
        return self.store.root

    @property
    def location(self) -> str:
        """The lake as it may be printed (no credentials)."""
        return self.store.display

    def join(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts) if parts else self.root

    def is_dir(self, path: str) -> bool:
        return self.filesystem.get_file_info(path).type == pafs.FileType.Directory

    def children(self, path: str) -> list[pafs.FileInfo]:
        selector = pafs.FileSelector(path, allow_not_found=True, recursive=False)
        return sorted(self.filesystem.get_file_info(selector), key=lambda info: info.base_name)

    def uri(self, path: str) -> str:
        """How to name `path` to a person (`s3://bucket/...` or a local path)."""
        return self.store.uri(path)


@dataclass(frozen=True)
class Failure:
    """A partition the tap gave up on, from a run summary."""

    stream: str
    context: dict[str, str]
    error: str
    message: str
    summary: str

    def covers(self, account_id: str, service_id: str) -> bool:
        """Did this failure keep the service's metrics from being synced?"""
        keys = {"account_id": account_id, "service_id": service_id}
        return all(keys[k] == v for k, v in self.context.items() if k in keys)

    @property
    def label(self) -> str:
        ids = " ".join(f"{k}={v}" for k, v in self.context.items()) or "(all accounts)"
        return f"{self.stream} {ids}: {self.error}: {self.message}"


def open_lake(
    location: str, storage_options: Mapping[str, object] | None = None,
) -> Lake:
    """The lake at a local path or URI, opened the way the loader opens destination_path
    (same schemes, `storage_options` and environment), but only to read: nothing is
    created or written."""
    try:
        lake = Lake(resolve_lake(location, storage_options))
    except DestinationError as exc:
        # The loader's message names its setting; here the location is the lake argument.
        raise LakeError(str(exc).replace("destination_path ", "lake ", 1)) from None
    try:
        exists = lake.is_dir(lake.root)
    except (pa.ArrowException, OSError) as exc:
        msg = f"lake {lake.location!r}: cannot list it: {redact(str(exc), storage_options or {})}"
        raise LakeError(msg) from None
    if not exists:
        msg = f"lake {lake.location!r}: no such directory"
        raise LakeError(msg)
    return lake


def vendor_paths(lake: Lake) -> list[tuple[str, str]]:
    """(name, path) of each `destination_path` under the lake: folders with a metrics stream.

    The lake may also be one destination_path itself (it holds `metrics/`).
    """
    if lake.is_dir(lake.join(METRICS_STREAM)):
        name = posixpath.basename(lake.root) or lake.location
        return [(name, lake.root)]
    found = [
        (info.base_name, info.path)
        for info in lake.children(lake.root)
        if info.type == pafs.FileType.Directory
        and not info.base_name.startswith(tuple(IGNORED_PREFIXES))
        and lake.is_dir(posixpath.join(info.path, METRICS_STREAM))
    ]
    if not found:
        msg = (
            f"lake {lake.location!r}: no `{METRICS_STREAM}` stream found; expected "
            f"<lake>/<vendor>/{METRICS_STREAM}/ (one folder per destination_path) or "
            f"<lake>/{METRICS_STREAM}/"
        )
        raise LakeError(msg)
    return found


def _stream_dataset(lake: Lake, path: str) -> ds.FileSystemDataset:
    return ds.dataset(
        path, filesystem=lake.filesystem, format="parquet", partitioning="hive",
        ignore_prefixes=IGNORED_PREFIXES,
    )


def _read_fragment(
    fragment: ds.ParquetFileFragment, columns: tuple[str, ...],
) -> pa.Table:
    """The wanted columns of one file; partition values (from its path) become columns."""
    present = [c for c in columns if c in fragment.physical_schema.names]
    table = fragment.to_table(columns=present)
    for name, value in (ds.get_partition_keys(fragment.partition_expression) or {}).items():
        if name in columns and name not in present:
            table = table.append_column(name, pa.array([value] * table.num_rows, pa.string()))
    return table


def _check_keys(
    lake: Lake, fragments: list[ds.ParquetFileFragment], schemas: list[pa.Schema],
    columns: tuple[str, ...],
) -> None:
    for fragment, schema in zip(fragments, schemas, strict=True):
        in_path = ds.get_partition_keys(fragment.partition_expression) or {}
        missing = [c for c in (*KEY_COLUMNS, DATE_COLUMN)
                   if c in columns and c not in schema.names and c not in in_path]
        if missing:
            msg = f"{lake.uri(fragment.path)}: no column {', '.join(missing)}"
            raise LakeError(msg)


def _read_stream(lake: Lake, path: str, columns: tuple[str, ...]) -> list[pa.Table]:
    """The wanted columns of every file of a stream (missing ones as nulls).

    One parallel scan when the files agree on their columns' types; file by file when a
    long-lived lake's files do not (a date an older writer stored as text, a flag as int).
    """
    try:
        dataset = _stream_dataset(lake, path)
        fragments = list(dataset.get_fragments())
        if not fragments:
            return []
        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            schemas = list(pool.map(lambda f: f.physical_schema, fragments))
        _check_keys(lake, fragments, schemas, columns)
        try:
            unified = pa.unify_schemas([*schemas, dataset.schema])
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
                return list(pool.map(lambda f: _read_fragment(f, columns), fragments))
        whole = dataset if unified.equals(dataset.schema) else ds.dataset(
            path, schema=unified, filesystem=lake.filesystem, format="parquet",
            partitioning=ds.partitioning(
                pa.schema([unified.field(n) for n in dataset.partitioning.schema.names]),
                flavor="hive",
            ) if dataset.partitioning else None,
            ignore_prefixes=IGNORED_PREFIXES,
        )
        return [whole.to_table(columns=[c for c in columns if c in unified.names])]
    except (pa.ArrowException, OSError) as exc:
        msg = f"{lake.uri(path)}: cannot read it as Parquet: {exc}"
        raise LakeError(msg) from exc


def _as_text(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return values if pa.types.is_string(values.type) else values.cast(pa.string())


def _as_date(values: pa.ChunkedArray | pa.Array, where: str) -> pa.ChunkedArray | pa.Array:
    if pa.types.is_date32(values.type):
        return values
    try:
        if pa.types.is_timestamp(values.type) or pa.types.is_date64(values.type):
            return values.cast(pa.date32())
        return _as_text(values).cast(pa.date32())
    except pa.ArrowInvalid as exc:
        msg = f"{where}: column `{DATE_COLUMN}` does not hold dates: {exc}"
        raise LakeError(msg) from exc


def read_days(lake: Lake, vendor_path: str, rules: tuple[NotFinalRule, ...]) -> pa.Table:
    """One row per (account, service, day) in the vendor's metrics, with `not_final`.

    A day re-emitted by later runs (lookback) has several records; it is final when any of
    them is, since a vendor never takes finality back.
    """
    path = posixpath.join(vendor_path, METRICS_STREAM)
    columns = (*KEY_COLUMNS, DATE_COLUMN, *dict.fromkeys(rule.column for rule in rules))
    parts = []
    for table in _read_stream(lake, path, columns):
        parts.append(pa.table({
            "account_id": _as_text(table["account_id"]),
            "service_id": _as_text(table["service_id"]),
            "date": _as_date(table[DATE_COLUMN], lake.uri(path)),
            "not_final": not_final(table, rules),
        }))
    if not parts:
        return pa.table({
            "account_id": pa.array([], pa.string()), "service_id": pa.array([], pa.string()),
            "date": pa.array([], pa.date32()), "not_final": pa.array([], pa.bool_()),
        })
    # Single-threaded: as fast on a quiet machine, and steadier on a busy one.
    grouped = pa.concat_tables(parts).group_by(
        ["account_id", "service_id", "date"], use_threads=False,
    ).aggregate([("not_final", "all")])
    return grouped.rename_columns(["account_id", "service_id", "date", "not_final"]).filter(
        pc.is_valid(grouped["date"]),
    )


def read_ended_services(
    lake: Lake, vendor_path: str, rules: tuple[NotFinalRule, ...],
) -> set[tuple[str, str]]:
    """(account_id, service_id) of the services a `services` record says have ended."""
    path = posixpath.join(vendor_path, SERVICES_STREAM)
    if not rules or not lake.is_dir(path):
        return set()
    ended: set[tuple[str, str]] = set()
    columns = (*KEY_COLUMNS, *dict.fromkeys(rule.column for rule in rules))
    for table in _read_stream(lake, path, columns):
        matched = table.filter(not_final(table, rules))
        ended.update(zip(_as_text(matched["account_id"]).to_pylist(),
                         _as_text(matched["service_id"]).to_pylist(), strict=True))
    return ended


def summary_paths(lake: Lake, vendor_path: str) -> list[str]:
    """The run summaries kept beside the vendor's streams (`_run_summary*.json`)."""
    return [
        info.path for info in lake.children(vendor_path)
        if info.type == pafs.FileType.File
        and info.base_name.startswith(SUMMARY_PREFIX) and info.base_name.endswith(".json")
    ]


def read_summary(
    filesystem: pafs.FileSystem, path: str, shown_as: str,
) -> tuple[list[Failure], str]:
    """The failed partitions of a tap's run summary (`summary_path`), and when it was written."""
    try:
        with filesystem.open_input_stream(path) as handle:
            summary: Any = json.loads(handle.read().decode("utf-8"))
        modified = filesystem.get_file_info(path).mtime
    except (OSError, pa.ArrowException, UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"run summary {shown_as}: cannot read it: {exc}"
        raise LakeError(msg) from exc
    streams = summary.get("streams") if isinstance(summary, dict) else None
    if not isinstance(streams, dict):
        msg = f"run summary {shown_as}: not a tap run summary (no `streams` object)"
        raise LakeError(msg)
    failures = [
        Failure(
            stream=str(stream),
            context={str(k): str(v) for k, v in (failure.get("context") or {}).items()},
            error=str(failure.get("error", "")),
            message=str(failure.get("message", "")),
            summary=shown_as,
        )
        for stream, tally in sorted(streams.items())
        for failure in (tally.get("failures") or [])
    ]
    written = (
        modified.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        if isinstance(modified, datetime.datetime) else "unknown time"
    )
    return failures, written
