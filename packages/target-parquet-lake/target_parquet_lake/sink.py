"""The Parquet sink: one per stream and SCHEMA message."""

from __future__ import annotations

import typing as t

import pyarrow as pa
from singer_sdk.exceptions import InvalidJSONSchema
from singer_sdk.sinks import BatchSink

from target_parquet_lake.records import ColumnBuffer, record_error
from target_parquet_lake.schema_to_arrow import Column, arrow_schema, columns_from_schema
from target_parquet_lake.validation import RecordValidator
from target_parquet_lake.writer import StreamWriter

if t.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from singer_sdk.exceptions import InvalidRecord
    from singer_sdk.sinks.core import BaseJSONSchemaValidator
    from singer_sdk.target_base import Target

    from target_parquet_lake.target import TargetParquet


class ParquetSink(BatchSink):
    """Buffers a stream's records column-wise and writes each batch to Parquet.

    Every batch the SDK drains is on disk (renamed to its final name) when
    `process_batch` returns. The SDK emits STATE only after draining all sinks, so
    a STATE message never acknowledges records that are not yet in a file: unlike
    the hub variant, nothing is kept in memory across drains.
    """

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict,
        key_properties: Sequence[str] | None,
    ) -> None:
        """Derive the stream's fixed Arrow schema and its writer.

        Args:
            target: The TargetParquet instance (its settings and run bookkeeping).
            stream_name: Name of the stream.
            schema: The stream's JSON schema.
            key_properties: The stream's key, used to name bad records.
        """
        self._run = t.cast("TargetParquet", target).run
        self._ordinal = 0  # records seen, to name a record when the stream has no key
        super().__init__(target, stream_name, schema, key_properties)
        settings = self._run.settings

        try:
            columns = columns_from_schema(
                self.schema,
                max_flatten_level=settings.max_flatten_level,
            )
        except InvalidJSONSchema as exc:
            msg = f"stream '{stream_name}': {exc}"
            raise InvalidJSONSchema(msg) from exc
        extra_names = {extra.name for extra in settings.extra_fields}
        overridden = [c.name for c in columns if c.name in extra_names]
        if overridden:
            self.logger.warning(
                "Stream '%s': extra_fields replace the stream's own column(s) %s.",
                stream_name,
                ", ".join(overridden),
            )
        self.columns: list[Column] = [c for c in columns if c.name not in extra_names]
        self.arrow_schema: pa.Schema = arrow_schema(self.columns)
        for extra in settings.extra_fields:
            self.arrow_schema = self.arrow_schema.append(
                pa.field(extra.name, extra.arrow_type, nullable=False),
            )

        self._buffer = ColumnBuffer(self.columns, settings.extra_fields, self._record_error)
        self.writer = StreamWriter(
            directory=settings.destination_path / _safe_dir_name(stream_name),
            stream_name=_safe_dir_name(stream_name),
            stamp=self._run.stamp,
            compression=settings.compression,
            extension=settings.file_extension,
            max_table_bytes=settings.max_table_bytes,
            partition_cols=self._partition_cols(),
        )

    def _partition_cols(self) -> tuple[str, ...]:
        wanted = self._run.settings.partition_cols
        missing = [col for col in wanted if col not in self.arrow_schema.names]
        if not missing:
            return wanted
        # Streams differ: a date partition suits `metrics` but not `accounts`. Such
        # streams are written unpartitioned rather than failing the whole run.
        if len(missing) == len(wanted):
            self._run.log_once(
                self.logger.info,
                self.stream_name,
                "Stream '%s' has none of partition_cols (%s): writing it unpartitioned.",
                self.stream_name,
                ", ".join(wanted),
            )
        else:
            self._run.log_once(
                self.logger.warning,
                self.stream_name,
                "Stream '%s' lacks partition column(s) %s of partition_cols (%s): "
                "writing it unpartitioned.",
                self.stream_name,
                ", ".join(missing),
                ", ".join(wanted),
            )
        return ()

    def _record_error(
        self,
        record: Mapping[str, t.Any],
        field: str,
        problem: str,
    ) -> InvalidRecord:
        return record_error(
            self.stream_name,
            self.key_properties,
            record,
            ordinal=self._ordinal,
            field=field,
            problem=problem,
        )

    @property
    def max_size(self) -> int:
        """Records buffered before the SDK drains this sink (`max_batch_size`)."""
        return self._run.settings.max_batch_size

    def get_validator(self) -> BaseJSONSchemaValidator | None:
        """The SDK's validation hook, with errors naming stream, key and field.

        With `validate_records` off only the date-like fields are still checked,
        so the SDK's date parsing never fails without saying which record it was.
        """
        return RecordValidator(
            self.schema,
            stream_name=self.stream_name,
            key_properties=self.key_properties,
            full=self.validate_schema,
        )

    def process_record(self, record: dict, context: dict) -> None:
        """Check, convert and buffer one record (column-wise)."""
        _ = context  # the batch context is the SDK's; our buffer lives on the sink
        self._ordinal += 1
        self._buffer.append(record)

    def process_batch(self, context: dict) -> None:
        """Write the buffered records; they are all on disk when this returns."""
        _ = context
        data, rows = self._buffer.take()
        if not rows:
            return
        # One columnar conversion per flush, with the stream's explicit schema.
        table = pa.Table.from_pydict(data, schema=self.arrow_schema)
        flush = self._run.next_flush_number(self.stream_name)
        files = self.writer.write(table, flush)
        self.logger.info(
            "Stream '%s': wrote %d records to %d file(s) (flush %d).",
            self.stream_name,
            rows,
            len(files),
            flush,
        )


def _safe_dir_name(stream_name: str) -> str:
    # A stream name is a single path component; separators would escape the layout.
    return stream_name.replace("/", "_").replace("\\", "_")
