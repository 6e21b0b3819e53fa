"""TargetParquet: a Singer target writing one Parquet dataset per stream."""

from __future__ import annotations

import datetime
import threading
import typing as t
import uuid

from singer_sdk import Target
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import TargetLoadMethods

from target_parquet_lake.load_metadata import SequenceClock
from target_parquet_lake.settings import (
    CONFIG_JSONSCHEMA,
    DEFAULT_FLUSH_INTERVAL_S,
    ParquetSettings,
)
from target_parquet_lake.sink import ParquetSink
from target_parquet_lake.storage import DestinationError, Lake, open_lake
from target_parquet_lake.writer import run_stamp

if t.TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from singer_sdk.sinks import Sink


class RunContext:
    """What all sinks of one target run share.

    Sinks are drained in parallel threads by the SDK, and a stream gets a new sink
    on every SCHEMA change, so per-stream counters live here, behind a lock.
    """

    def __init__(
        self,
        settings: ParquetSettings,
        lake: Lake,
        started_at: datetime.datetime,
    ) -> None:
        """Start a run.

        Args:
            settings: The parsed settings.
            lake: The opened destination.
            started_at: The target's start time, which file names carry.
        """
        self.settings = settings
        self.lake = lake
        self.sequence = SequenceClock()
        self.stamp = run_stamp(started_at, uuid.uuid4().hex[:8])
        self._lock = threading.Lock()
        self._flushes: dict[str, int] = {}
        self._logged: set[str] = set()

    def next_flush_number(self, stream_name: str) -> int:
        """The `n` of the stream's next flush: 0, 1, ... across all its sinks."""
        with self._lock:
            number = self._flushes.get(stream_name, 0)
            self._flushes[stream_name] = number + 1
            return number

    def log_once(
        self,
        log: Callable[..., None],
        stream_name: str,
        msg: str,
        *args: object,
    ) -> None:
        """Log a per-stream notice once per run, not once per SCHEMA message."""
        with self._lock:
            if stream_name in self._logged:
                return
            self._logged.add(stream_name)
        log(msg, *args)


class TargetParquet(Target):
    """Writes Singer streams to Parquet files, settings-compatible with Automattic's."""

    name = "target-parquet"
    config_jsonschema = CONFIG_JSONSCHEMA
    default_sink_class = ParquetSink

    def __init__(self, **kwargs: t.Any) -> None:
        """Validate config (the SDK), then parse the string-encoded settings.

        Args:
            **kwargs: As for `singer_sdk.Target` (config, parse_env_config, ...).

        Raises:
            ConfigValidationError: for a malformed setting, or a destination that
                cannot be written (unsupported scheme, missing bucket, credentials),
                before any input is read.
        """
        super().__init__(**kwargs)
        started = datetime.datetime.fromtimestamp(
            self.initialized_at / 1000,
            tz=datetime.timezone.utc,
        )
        settings = ParquetSettings.from_config(self.config)
        try:
            lake = open_lake(settings.destination_path, settings.storage_options)
        except DestinationError as exc:
            raise ConfigValidationError(str(exc), errors=[str(exc)]) from None
        self.run = RunContext(settings, lake, started)
        # singer-sdk drains everything (and emits STATE) only after records 5 minutes old;
        # a long run would otherwise checkpoint rarely.
        interval = float(self.config.get("flush_interval_seconds") or DEFAULT_FLUSH_INTERVAL_S)
        self._MAX_RECORD_AGE_IN_MINUTES = interval / 60
        load_method = self.config.get("load_method") or TargetLoadMethods.APPEND_ONLY
        if load_method != TargetLoadMethods.APPEND_ONLY:
            # The SDK lists this setting for every target; files are only ever added.
            self.logger.warning(
                "load_method=%s is not supported: target-parquet only appends files.",
                load_method,
            )

    def _process_state_message(self, message_dict: dict) -> None:
        """A STATE also checks the age of what is buffered, not only a RECORD does.

        Otherwise a tap that sends STATE and then waits (on a slow API) leaves the last
        records and their STATE unflushed until the next record arrives.
        """
        super()._process_state_message(message_dict)
        self._handle_max_record_age()

    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict | None = None,
        schema: dict | None = None,
        key_properties: Sequence[str] | None = None,
    ) -> Sink:
        """Flush a stream's buffer before the SDK replaces its sink on a SCHEMA change.

        The SDK would keep the old sink's records in memory until the next full
        drain, after records under the new schema may already have been written;
        flushing now keeps files in record order and memory bounded.
        """
        if schema is not None and self.sink_exists(stream_name):
            current = super().get_sink(stream_name)
            # The SDK's own test for "this SCHEMA message needs a new sink".
            if current.original_schema != schema or current.key_properties != key_properties:
                self.drain_one(current)
        return super().get_sink(
            stream_name,
            record=record,
            schema=schema,
            key_properties=key_properties,
        )


if __name__ == "__main__":
    TargetParquet.cli()
