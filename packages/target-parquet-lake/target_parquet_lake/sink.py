"""The Parquet sink: one per stream and SCHEMA message."""

from __future__ import annotations

import datetime
import typing as t

import pyarrow as pa
from singer_sdk.exceptions import InvalidJSONSchema
from singer_sdk.sinks import BatchSink
from typing_extensions import override

from target_parquet_lake.load_metadata import (
    METADATA_COLUMNS,
    METADATA_FIELDS,
    metadata_arrays,
    with_key_properties,
)
from target_parquet_lake.records import ColumnBuffer, record_error
from target_parquet_lake.schema_to_arrow import Column, arrow_schema, columns_from_schema
from target_parquet_lake.storage import redact
from target_parquet_lake.validation import RecordValidator
from target_parquet_lake.writer import StreamWriter, stream_dir_name

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
        # time_extracted of each buffered record, and of the one being processed
        self._extracted_at: list[str | None] = []
        self._time_extracted: str | None = None
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
        ours = extra_names | (set(METADATA_COLUMNS) if settings.add_record_metadata else set())
        self.columns: list[Column] = [c for c in columns if c.name not in ours]
        data_schema = arrow_schema(self.columns)
        for extra in settings.extra_fields:
            data_schema = data_schema.append(
                pa.field(extra.name, extra.arrow_type, nullable=False),
            )
        self._data_schema = data_schema
        full = pa.schema([*data_schema, *METADATA_FIELDS]) if self._with_metadata else data_schema
        self.arrow_schema: pa.Schema = with_key_properties(full, list(self.key_properties))

        self._buffer = ColumnBuffer(self.columns, settings.extra_fields, self._record_error)
        lake = self._run.lake
        self.writer = StreamWriter(
            lake=lake,
            directory=lake.path(stream_dir_name(stream_name)),
            stream_name=stream_dir_name(stream_name),
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

    @property
    def _with_metadata(self) -> bool:
        return self._run.settings.add_record_metadata

    @override
    @property
    def include_sdc_metadata_properties(self) -> bool:
        """Our own `add_record_metadata` (default on), not the SDK's (default off)."""
        return self._with_metadata

    @override
    def _add_sdc_metadata_to_schema(self) -> None:
        """Nothing: the metadata columns are typed Arrow columns added at each flush."""

    @override
    def _add_sdc_metadata_to_record(self, record: dict, message: dict, context: dict) -> None:
        """Keep only the message's `time_extracted`; the rest is filled per flush.

        The SDK would add seven fields to every record dict (two clock readings and two
        ISO strings each), which the record path would then validate and parse again.
        """
        _ = record, context
        self._time_extracted = message.get("time_extracted")

    def process_record(self, record: dict, context: dict) -> None:
        """Check, convert and buffer one record (column-wise)."""
        _ = context  # the batch context is the SDK's; our buffer lives on the sink
        self._ordinal += 1
        self._buffer.append(record)
        if self._with_metadata:
            self._extracted_at.append(self._time_extracted)

    def _table(self, data: dict[str, list[t.Any]], rows: int) -> pa.Table:
        # One columnar conversion per flush, with the stream's explicit schema.
        table = pa.Table.from_pydict(data, schema=self._data_schema)
        if self._with_metadata:
            extracted, self._extracted_at = self._extracted_at, []
            now = datetime.datetime.now(tz=datetime.timezone.utc)
            try:
                extra = metadata_arrays(extracted, self._run.sequence.take(rows), now)
            except pa.ArrowInvalid:
                # A tap's malformed time_extracted is no reason to lose the batch.
                self._run.log_once(
                    self.logger.warning,
                    f"{self.stream_name}:time_extracted",
                    "Stream '%s': a time_extracted is not ISO 8601; _sdc_extracted_at "
                    "is left empty for that batch.",
                    self.stream_name,
                )
                extra = metadata_arrays([None] * rows, self._run.sequence.take(rows), now)
            return pa.Table.from_arrays([*table.columns, *extra], schema=self.arrow_schema)
        return table.replace_schema_metadata(self.arrow_schema.metadata)

    def process_batch(self, context: dict) -> None:
        """Write the buffered records; they are all stored when this returns."""
        # A BATCH message: singer-sdk read its files into context["records"] (RECORD
        # messages never put anything there: process_record buffers on the sink).
        for record in context.get("records", ()):
            self.process_record(record, context)
        data, rows = self._buffer.take()
        if not rows:
            return
        table = self._table(data, rows)
        flush = self._run.next_flush_number(self.stream_name)
        try:
            files = self.writer.write(table, flush)
        except OSError as exc:
            lake = self._run.lake
            cause = redact(str(exc), self._run.settings.storage_options)
            msg = f"destination_path {lake.display!r}: writing stream '{self.stream_name}': {cause}"
            raise OSError(msg) from None
        self.logger.info(
            "Stream '%s': wrote %d records to %d file(s) (flush %d).",
            self.stream_name,
            rows,
            len(files),
            flush,
        )

