"""Where the files go: `destination_path` as a local folder or an object-store URI.

Filesystems are pyarrow's own (`pyarrow.fs`), not fsspec's: they are C++ clients that
ship inside the pyarrow wheel the loader already needs (S3, GCS, Azure, local; fsspec
needs s3fs/gcsfs/adlfs and their async stacks on top), Parquet is written straight
from Arrow buffers without a Python file object in between, and the S3 client reads
the standard AWS environment (keys, `AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL`).

A file appears under its final name only when it is complete:
  * local: written to a hidden `.<name>.tmp`, fsynced, renamed;
  * S3 and GCS: serialised in memory, then sent as one upload (a single PUT, or a
    multipart upload completed as a whole), so no object exists until the upload
    completes; a killed upload leaves at most an incomplete multipart upload, which
    S3 never lists as an object;
  * Azure: pyarrow's Azure stream creates an empty blob when it opens, so the file is
    uploaded as a hidden `.<name>.tmp` blob and then renamed (hierarchical namespace)
    or copied server-side onto its final name.
"""

from __future__ import annotations

import contextlib
import os
import re
import typing as t
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from target_parquet_lake.local_files import temp_path, write_locally

if t.TYPE_CHECKING:
    from collections.abc import Mapping

# scheme -> store; anything else with `://` (or `scheme:`) is refused, never taken as a
# local folder name.
SCHEMES: dict[str, str] = {
    "s3": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
    "file": "local",
}
# `s3:`, `s3:/x`, `hdfs://...`: a scheme of two or more letters and a colon. One letter is
# a Windows drive (`C:\lake`).
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
# Option names whose values are secrets: masked in every message we print.
_SECRET_OPTION = re.compile(r"key|secret|token|password|credential|sas", re.IGNORECASE)
_FILESYSTEMS: dict[str, type[pafs.FileSystem]] = {
    "s3": pafs.S3FileSystem,
    "gcs": pafs.GcsFileSystem,
    "azure": pafs.AzureFileSystem,
}


class DestinationError(Exception):
    """`destination_path` cannot be used: the message names it and the cause."""


def display_uri(destination: str) -> str:
    """The destination as it may be printed: no user info, no query string."""
    if "://" not in destination:
        return destination
    parts = urlsplit(destination)
    host = parts.hostname or ""
    if parts.username or parts.password:
        host = f"***@{host}"
    if parts.port:
        host = f"{host}:{parts.port}"
    query = "?***" if parts.query else ""
    return f"{parts.scheme}://{host}{parts.path}{query}"


def redact(text: str, options: Mapping[str, object]) -> str:
    """`text` with the values of secret-looking storage options replaced by `***`."""
    for name, value in options.items():
        # A value of a few characters is no secret, and masking it would garble words.
        if _SECRET_OPTION.search(name) and isinstance(value, str) and len(value) >= 4:
            text = text.replace(value, "***")
    return text


@dataclass(frozen=True)
class Lake:
    """A destination opened for writing: a pyarrow filesystem and a root inside it."""

    fs: pafs.FileSystem
    root: str  # path in `fs`, without a trailing slash
    store: str  # "local", "s3", "gcs" or "azure"
    display: str  # destination_path as printed (no secrets)

    @property
    def is_local(self) -> bool:
        """Files are on a local disk (rename is atomic, fsync exists)."""
        return self.store == "local"

    def path(self, *parts: str) -> str:
        """`root/part/...` in the filesystem's own separators (always `/`)."""
        return "/".join([self.root, *(p.strip("/") for p in parts if p and p != ".")])

    def uri(self, path: str) -> str:
        """A path as a reader would name it (`s3://bucket/...` or a local path)."""
        if self.is_local:
            return path
        scheme = "s3" if self.store == "s3" else "gs" if self.store == "gcs" else "abfs"
        return f"{scheme}://{path}"

    def write_parquet(
        self,
        table: pa.Table,
        path: str,
        compression: str,
    ) -> None:
        """Write `table` so that `path` exists only once the file is complete.

        Raises:
            FileExistsError: if a local `path` exists; a file is never overwritten.
        """
        if self.is_local:
            write_locally(table, Path(path), compression)
            return
        # No existence check here (on S3 it costs a HEAD and a LIST per file): every name
        # carries the run's random token, so two writers never pick the same one.
        # The whole file is serialised first: an exception while encoding then never
        # reaches the store, where closing a half-written stream would complete it.
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression=compression)
        data = sink.getvalue()
        if self.store == "azure":
            self._upload_then_rename(data, path)
        else:
            with self.fs.open_output_stream(path) as stream:
                stream.write(data)

    def _upload_then_rename(self, data: pa.Buffer, path: str) -> None:
        tmp = str(temp_path(Path(path))).replace(os.sep, "/")
        try:
            with self.fs.open_output_stream(tmp) as stream:
                stream.write(data)
            try:
                self.fs.move(tmp, path)  # atomic on a hierarchical namespace
            except (OSError, NotImplementedError, pa.ArrowNotImplementedError):
                self.fs.copy_file(tmp, path)  # the copy appears whole or not at all
                self.fs.delete_file(tmp)
        except BaseException:
            with contextlib.suppress(OSError):
                self.fs.delete_file(tmp)
            raise

    def delete(self, path: str) -> None:
        """Delete one file (missing is fine: another compaction may have won)."""
        if self.is_local:
            Path(path).unlink(missing_ok=True)
            return
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(path)

    def list_files(self, directory: str) -> list[pafs.FileInfo]:
        """Every file under `directory`, recursively (none if it does not exist)."""
        selector = pafs.FileSelector(directory, recursive=True, allow_not_found=True)
        return [i for i in self.fs.get_file_info(selector) if i.type == pafs.FileType.File]


def parse_scheme(destination: str) -> tuple[str, str]:
    """(store, location) for a destination_path; raises DestinationError if unsupported."""
    match = _SCHEME.match(destination)
    if not match:
        return "local", destination
    scheme = match.group(1).lower()
    store = SCHEMES.get(scheme)
    if store is None:
        supported = ", ".join(f"{s}://" for s in SCHEMES)
        msg = (
            f"destination_path {display_uri(destination)!r}: unsupported scheme "
            f"{scheme!r} (supported: {supported}, or a local folder)"
        )
        raise DestinationError(msg)
    if not destination[match.end() :].startswith("//"):
        msg = (
            f"destination_path {display_uri(destination)!r}: write {scheme}://... "
            "(a local folder name cannot contain ':')"
        )
        raise DestinationError(msg)
    return store, destination


def resolve_lake(
    destination: str,
    storage_options: Mapping[str, object] | None = None,
) -> Lake:
    """The filesystem and root of a destination, without touching it.

    What readers (target-parquet-coverage) use, so they find files exactly where the
    loader put them; `open_lake` adds the loader's checks that it can write there.

    Raises:
        DestinationError: unsupported scheme or a storage option pyarrow refuses.
    """
    options = dict(storage_options or {})
    store, location = parse_scheme(destination)
    shown = display_uri(destination)
    if store == "local":
        folder = Path(location[len("file://") :] if location.startswith("file://") else location)
        return Lake(
            fs=pafs.LocalFileSystem(),
            root=str(folder.expanduser().resolve()),
            store="local",
            display=shown,
        )
    if store == "s3":
        fs, root = _s3(location, options)
    elif store == "gcs":
        fs, root = _filesystem("gcs", options, shown), _bucket_path(location)
    else:
        fs, root = _azure(location, options, shown)
    return Lake(fs=fs, root=root.rstrip("/"), store=store, display=shown)


def open_lake(destination: str, storage_options: Mapping[str, object] | None = None) -> Lake:
    """Resolve `destination_path` and check it can be written, before anything is.

    Raises:
        DestinationError: unsupported scheme, bad storage option, missing bucket or
            container, or credentials that cannot reach or write to it.
    """
    options = dict(storage_options or {})
    lake = resolve_lake(destination, options)
    if lake.is_local:
        _prepare_local(lake)
        return lake
    try:
        _check_object_store(lake)
    except OSError as exc:
        msg = f"destination_path {lake.display!r}: {redact(str(exc), options)}"
        raise DestinationError(msg) from None
    return lake


def _prepare_local(lake: Lake) -> None:
    root, shown = Path(lake.root), lake.display
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"destination_path {shown!r}: cannot create the folder: {exc.strerror or exc}"
        raise DestinationError(msg) from None
    if not os.access(root, os.W_OK | os.X_OK):
        msg = f"destination_path {shown!r}: the folder is not writable (permission denied)"
        raise DestinationError(msg)


def _bucket_path(location: str) -> str:
    parts = urlsplit(location)
    return f"{parts.hostname or ''}{parts.path}"


def _filesystem(store: str, options: dict[str, object], shown: str) -> pafs.FileSystem:
    cls = _FILESYSTEMS[store]
    try:
        return cls(**options)
    except TypeError as exc:
        msg = (
            f"destination_path {shown!r}: storage_options has an option pyarrow's "
            f"{cls.__name__} does not take ({redact(str(exc), options)})"
        )
        raise DestinationError(msg) from None
    except (OSError, ValueError, pa.ArrowException) as exc:
        msg = f"destination_path {shown!r}: {redact(str(exc), options)}"
        raise DestinationError(msg) from None


def _s3(location: str, options: dict[str, object]) -> tuple[pafs.FileSystem, str]:
    root = _bucket_path(location)
    # Without delayed open every file starts a multipart upload; with it a file smaller
    # than one part is a single PUT (fewer round trips, nothing left if killed).
    options.setdefault("allow_delayed_open", True)
    # pyarrow's S3FileSystem() reads keys, profile and region from the environment, but
    # the endpoint only when built from a URI; read it the way AWS SDKs do.
    endpoint = options.get("endpoint_override") or os.environ.get(
        "AWS_ENDPOINT_URL_S3",
        os.environ.get("AWS_ENDPOINT_URL"),
    )
    if endpoint:
        options["endpoint_override"] = endpoint
    region_known = options.get("region") or any(
        os.environ.get(v) for v in ("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    if not endpoint and not region_known:
        # A bucket answers only in its own region; ask AWS which one (as from_uri does).
        with contextlib.suppress(OSError):
            options["region"] = pafs.resolve_s3_region(root.split("/", 1)[0])
    return _filesystem("s3", options, display_uri(location)), root


def _azure(
    location: str,
    options: dict[str, object],
    shown: str,
) -> tuple[pafs.FileSystem, str]:
    parts = urlsplit(location)
    container = parts.username or parts.hostname or ""
    if parts.username and parts.hostname:
        # abfs://container@account.dfs.core.windows.net/path
        options.setdefault("account_name", parts.hostname.split(".", 1)[0])
    else:
        # az://container/path (the adlfs form): the account comes from the settings or
        # the environment variable adlfs reads.
        account = os.environ.get("AZURE_STORAGE_ACCOUNT_NAME")
        if account:
            options.setdefault("account_name", account)
    if not options.get("account_name"):
        msg = (
            f"destination_path {shown!r}: no Azure storage account: write "
            "abfs://<container>@<account>.dfs.core.windows.net/<path>, or set "
            "storage_options.account_name or AZURE_STORAGE_ACCOUNT_NAME"
        )
        raise DestinationError(msg)
    return _filesystem("azure", options, shown), f"{container}{parts.path}"


def _check_object_store(lake: Lake) -> None:
    """The bucket exists and these credentials can write to it: else fail now.

    The write check is a hidden empty object (no reader's glob matches it) deleted at
    once; a lake whose policy forbids deletes still loads (the probe then stays).
    """
    bucket = lake.root.split("/", 1)[0]
    info = lake.fs.get_file_info(bucket)
    if info.type == pafs.FileType.NotFound:
        kind = "container" if lake.store == "azure" else "bucket"
        msg = f"{kind} {bucket!r} does not exist"
        raise OSError(msg)
    probe = lake.path(f".target-parquet-write-check-{uuid.uuid4().hex}")
    with lake.fs.open_output_stream(probe) as stream:
        stream.write(b"")
    with contextlib.suppress(OSError):
        lake.fs.delete_file(probe)
