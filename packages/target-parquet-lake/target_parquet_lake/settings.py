"""Settings: the JSON schema the SDK validates, and the parsed form the sinks use.

Setting names and string formats follow MeltanoHub's default variant
(Automattic/target-parquet) so a project can swap between the two without
touching its meltano.yml.
"""

from __future__ import annotations

import datetime
import decimal
import typing as t
from dataclasses import dataclass, field

import pyarrow as pa
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

# Name used in the file extension is the method itself ("none" adds no extension),
# so a file's name tells how it is compressed without opening it.
COMPRESSION_METHODS: tuple[str, ...] = ("snappy", "gzip", "brotli", "zstd", "lz4", "none")

EXTRA_FIELD_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "date-time": pa.timestamp("us", tz="UTC"),
}

DEFAULT_DESTINATION_PATH = "output"
DEFAULT_COMPRESSION = "snappy"
DEFAULT_MAX_BATCH_SIZE = 10_000
DEFAULT_MAX_TABLE_SIZE_MB = 800
DEFAULT_MAX_FLATTEN_LEVEL = 100
DEFAULT_FLUSH_INTERVAL_S = 60
BYTES_PER_MB = 1024 * 1024

CONFIG_JSONSCHEMA: dict[str, t.Any] = th.PropertiesList(
    th.Property(
        "destination_path",
        th.StringType,
        default=DEFAULT_DESTINATION_PATH,
        description=(
            "Where the files go, one sub-directory per stream: "
            "`<destination_path>/<stream>/`. A local folder, `file://`, `s3://bucket/prefix`, "
            "`gs://bucket/prefix`, `az://container/prefix` or "
            "`abfs[s]://container@account.dfs.core.windows.net/prefix`. Credentials come "
            "from the store's standard environment (for S3: AWS_* variables, profiles, "
            "AWS_ENDPOINT_URL for S3-compatible stores)."
        ),
    ),
    th.Property(
        "storage_options",
        th.ObjectType(),
        secret=True,
        description=(
            "Options for pyarrow's filesystem of the destination_path's store, for what "
            "the environment cannot say: e.g. `{\"region\": \"eu-west-1\", "
            "\"endpoint_override\": \"http://minio:9000\"}` for S3 (S3FileSystem), "
            "`account_name`/`account_key` for Azure (AzureFileSystem), `project_id` for "
            "GCS (GcsFileSystem). Sensitive: may hold keys; never logged."
        ),
    ),
    th.Property(
        "add_record_metadata",
        th.BooleanType,
        default=True,
        description=(
            "Add load metadata columns to every record: `_sdc_extracted_at` (the tap's "
            "time_extracted), `_sdc_batched_at` (when the file was written) and "
            "`_sdc_sequence` (increases with every record loaded, across runs), so the "
            "latest record per key never depends on file names. On by default (unlike "
            "the SDK); target-parquet-compact needs it."
        ),
    ),
    th.Property(
        "compression_method",
        th.StringType,
        default=DEFAULT_COMPRESSION,
        allowed_values=list(COMPRESSION_METHODS),
        description=(
            "Parquet compression codec. Also the file name's extension "
            "(`.snappy.parquet`); `none` writes uncompressed `.parquet` files."
        ),
    ),
    th.Property(
        "max_batch_size",
        th.IntegerType(minimum=1),
        default=DEFAULT_MAX_BATCH_SIZE,
        description=(
            "Records a stream buffers before they are written out (one flush). "
            "Every flush is on disk before the target emits a STATE message."
        ),
    ),
    th.Property(
        "max_pyarrow_table_size",
        th.NumberType(exclusive_minimum=0),
        default=DEFAULT_MAX_TABLE_SIZE_MB,
        description=(
            "Largest in-memory Arrow table (MiB) written to one file: a flush "
            "bigger than this rolls over into several part files."
        ),
    ),
    th.Property(
        "max_flatten_level",
        th.IntegerType(minimum=0),
        default=DEFAULT_MAX_FLATTEN_LEVEL,
        description=(
            "How many levels of nested objects become `parent__child` columns; "
            "deeper objects, and arrays, are stored as JSON strings."
        ),
    ),
    th.Property(
        "extra_fields",
        th.StringType,
        description=(
            "Constant columns added to every record, as `k1=v1,k2=v2`. "
            "A constant replaces a stream column of the same name."
        ),
        examples=["source=vendorx,env=prod"],
    ),
    th.Property(
        "extra_fields_types",
        th.StringType,
        description=(
            "Types of the `extra_fields`, as `k1=string,k2=integer` "
            f"(one of: {', '.join(EXTRA_FIELD_TYPES)}); unlisted fields are strings."
        ),
        examples=["source=string,env=string"],
    ),
    th.Property(
        "flush_interval_seconds",
        th.NumberType(exclusive_minimum=0),
        default=DEFAULT_FLUSH_INTERVAL_S,
        description=(
            "Longest time a record waits in memory: past it every stream is written out "
            "and the STATE covering them is emitted, so Meltano checkpoints a long run "
            "and a crash re-extracts at most this much. Not a hub-variant setting."
        ),
    ),
    th.Property(
        "partition_cols",
        th.StringType,
        description=(
            "Hive-partition columns, as `col1,col2` (flattened names): files go to "
            "`<stream>/col1=<v>/col2=<v>/`. Streams lacking any of them are written "
            "unpartitioned (logged once per stream)."
        ),
        examples=["date"],
    ),
).to_dict()


@dataclass(frozen=True)
class ExtraField:
    """A constant column from `extra_fields`, with its value already typed."""

    name: str
    type_name: str
    value: object

    @property
    def arrow_type(self) -> pa.DataType:
        """Arrow type of the column."""
        return EXTRA_FIELD_TYPES[self.type_name]


@dataclass(frozen=True)
class ParquetSettings:
    """The target's settings, parsed and checked once at start-up."""

    destination_path: str
    storage_options: t.Mapping[str, t.Any] = field(repr=False)  # may hold secrets
    add_record_metadata: bool
    compression: str
    max_batch_size: int
    max_table_bytes: int
    max_flatten_level: int
    extra_fields: tuple[ExtraField, ...]
    partition_cols: tuple[str, ...]

    @property
    def file_extension(self) -> str:
        """File name suffix, e.g. `.snappy.parquet`."""
        if self.compression == "none":
            return ".parquet"
        return f".{self.compression}.parquet"

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> ParquetSettings:
        """Parse the validated config dict.

        Raises:
            ConfigValidationError: naming the offending setting, which the SDK's CLI
                reports as a config error (exit code 1) rather than a traceback.
        """
        errors: list[str] = []

        compression = str(config.get("compression_method") or DEFAULT_COMPRESSION)
        if compression not in COMPRESSION_METHODS:
            # The JSON schema's enum catches this first when validation is on; this
            # covers validate_config=False so a bad codec never reaches pyarrow.
            errors.append(
                f"compression_method: {compression!r} is not one of "
                f"{', '.join(COMPRESSION_METHODS)}",
            )

        # The SDK's built-in `batch_size_rows` is a cap too: when both are set, the
        # smaller wins, so neither setting is silently ignored.
        max_batch_size = int(config.get("max_batch_size") or DEFAULT_MAX_BATCH_SIZE)
        if config.get("batch_size_rows"):
            max_batch_size = min(max_batch_size, int(config["batch_size_rows"]))
        table_mb = float(config.get("max_pyarrow_table_size") or DEFAULT_MAX_TABLE_SIZE_MB)
        flatten = config.get("max_flatten_level")
        max_flatten_level = DEFAULT_MAX_FLATTEN_LEVEL if flatten is None else int(flatten)

        extra_fields = _parse_extra_fields(
            config.get("extra_fields") or "",
            config.get("extra_fields_types") or "",
            errors,
        )
        partition_cols = _parse_partition_cols(config.get("partition_cols") or "", errors)

        storage_options = config.get("storage_options") or {}
        if not isinstance(storage_options, dict):
            errors.append("storage_options: must be an object of option names to values")
            storage_options = {}
        add_metadata = config.get("add_record_metadata")

        if errors:
            raise ConfigValidationError("Config validation failed", errors=errors)

        return cls(
            destination_path=str(config.get("destination_path") or DEFAULT_DESTINATION_PATH),
            storage_options=storage_options,
            add_record_metadata=True if add_metadata is None else bool(add_metadata),
            compression=compression,
            max_batch_size=max_batch_size,
            max_table_bytes=max(1, int(table_mb * BYTES_PER_MB)),
            max_flatten_level=max_flatten_level,
            extra_fields=extra_fields,
            partition_cols=partition_cols,
        )


def _parse_pairs(setting: str, text: str, errors: list[str]) -> dict[str, str]:
    """Parse `k1=v1,k2=v2`; values may contain `=` (split on the first one)."""
    pairs: dict[str, str] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue  # tolerate trailing commas
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            errors.append(f"{setting}: {item!r} is not of the form key=value")
            continue
        if key in pairs:
            errors.append(f"{setting}: {key!r} is given more than once")
            continue
        pairs[key] = value.strip()
    return pairs


def _parse_extra_fields(
    fields_text: str,
    types_text: str,
    errors: list[str],
) -> tuple[ExtraField, ...]:
    values = _parse_pairs("extra_fields", fields_text, errors)
    types = _parse_pairs("extra_fields_types", types_text, errors)
    # The hub variant asserts both settings carry the same keys; here a field without
    # a type defaults to string, but a type for an unknown field is surely a typo.
    for name in types.keys() - values.keys():
        errors.append(f"extra_fields_types: {name!r} is not one of the extra_fields")

    fields: list[ExtraField] = []
    for name, text in values.items():
        type_name = types.get(name, "string").lower()
        if type_name not in EXTRA_FIELD_TYPES:
            errors.append(
                f"extra_fields_types: {name!r} has unknown type {type_name!r} "
                f"(one of: {', '.join(EXTRA_FIELD_TYPES)})",
            )
            continue
        try:
            value = _typed_constant(text, type_name)
        except (ValueError, decimal.InvalidOperation):
            errors.append(f"extra_fields: {name}={text!r} is not a valid {type_name}")
            continue
        fields.append(ExtraField(name=name, type_name=type_name, value=value))
    return tuple(fields)


def _to_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise ValueError(text)


def _to_utc(text: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:  # naive means UTC, as for records
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


_CONSTANT_PARSERS: dict[str, t.Callable[[str], object]] = {
    "string": str,
    "integer": int,
    "number": lambda text: float(decimal.Decimal(text)),
    "boolean": _to_bool,
    "date": datetime.date.fromisoformat,
    "date-time": _to_utc,
}


def _typed_constant(text: str, type_name: str) -> object:
    return _CONSTANT_PARSERS[type_name](text)


def _parse_partition_cols(text: str, errors: list[str]) -> tuple[str, ...]:
    cols = [c.strip() for c in text.split(",") if c.strip()]
    if len(set(cols)) != len(cols):
        errors.append(f"partition_cols: {text!r} names a column more than once")
    return tuple(cols)
