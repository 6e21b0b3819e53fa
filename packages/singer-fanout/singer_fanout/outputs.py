"""Where each selected stream's records go, and what closes a stream at the end of a run.

- Without `batch_config`: RECORD messages (`RecordEmitter`).
- With `batch_config` (singer-sdk's setting: jsonl or parquet files, local or remote
  storage): records collect per stream; every `batch_size` records become one file, written
  by singer-sdk's batcher, and one BATCH message naming it. Before every STATE message the
  partly filled batches are written too (`before_state`), so a STATE never covers records
  that are not yet in a file a BATCH message named.
- With `emit_activate_version_messages`: each full-table stream gets a new table version;
  its records carry it, and ACTIVATE_VERSION is sent once every partition of the stream
  succeeded, after its last record, so a target removes (soft or hard) only rows the vendor
  no longer lists, never rows of a listing that failed this run.
- singer-sdk's METRIC lines for records, batches and each stream's sync (`StreamMeters`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from singer_sdk.batch import Batcher
from singer_sdk.streams import Stream

from singer_fanout import sdk_seam
from singer_fanout.emit import RecordEmitter
from singer_fanout.metrics import StreamMeters

FULL_TABLE = "FULL_TABLE"
logger = logging.getLogger("singer_fanout.outputs")


class StreamOutputs:
    def __init__(self, tap_name: str, streams: list[Stream], config: Mapping[str, Any], *,
                 limited_by: str | None = None) -> None:
        """`limited_by` names the setting that makes this run list only some parents
        (e.g. a subset of accounts): its full-table streams are then no complete listing,
        and activating their version would make a target delete every row it skipped."""
        self._tap_name = tap_name
        self._streams = {stream.name: stream for stream in streams}
        self._emitters: dict[str, RecordEmitter] = {}
        self._batch_configs: dict[str, Any] = {}  # singer-sdk's BatchConfig
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._failed: set[str] = set()
        self._versions: dict[str, int] = {}
        for stream in streams:
            batch_config = stream.get_batch_config(config)
            if batch_config is not None:
                self._batch_configs[stream.name] = batch_config
                self._pending[stream.name] = []
            if (stream.replication_method == FULL_TABLE
                    and stream.emit_activate_version_messages):
                if limited_by:
                    logger.warning("stream '%s': no ACTIVATE_VERSION in this run: '%s' limits "
                                   "it to part of the listing", stream.name, limited_by)
                    continue
                self._versions[stream.name] = sdk_seam.start_table_version(stream)
        self.meters = StreamMeters(streams)

    def write(self, stream: Stream, records: list[dict[str, Any]]) -> None:
        """One partition's records, in order, all of them emitted or pending in a batch."""
        self.meters.records(stream, len(records))
        pending = self._pending.get(stream.name)
        if pending is None:
            self._emitter_for(stream).write(records)
            return
        clean = self._emitter_for(stream).declared_only(records)
        pending.extend(clean)
        batch_size = self._batch_configs[stream.name].batch_size
        while len(pending) >= batch_size:
            self._write_batch(stream, pending[:batch_size])
            del pending[:batch_size]

    def partition_failed(self, stream: Stream) -> None:
        self._failed.add(stream.name)

    def before_state(self) -> None:
        """Write every partly filled batch: the STATE about to go out covers its records."""
        for name, pending in self._pending.items():
            if pending:
                self._write_batch(self._streams[name], pending)
                pending.clear()

    def finish(self, *, complete: bool) -> None:
        """The run is over: remaining batches, then ACTIVATE_VERSION where it is safe.

        `complete` is False when the run stopped early (an error, a signal): a version is
        only activated when the whole listing it stands for was emitted.
        """
        self.before_state()
        if not complete:
            return
        for name, version in self._versions.items():
            if name not in self._failed:
                sdk_seam.write_activate_version(self._streams[name], version)

    def _write_batch(self, stream: Stream, records: list[dict[str, Any]]) -> None:
        batch_config = self._batch_configs[stream.name]
        batcher = Batcher(self._tap_name, stream.name, batch_config)
        for manifest in batcher.get_batches(iter(records)):
            sdk_seam.write_batch(stream, batch_config.encoding, manifest)
            self.meters.batch(stream)

    def _emitter_for(self, stream: Stream) -> RecordEmitter:
        emitter = self._emitters.get(stream.name)
        if emitter is None:
            version = self._versions.get(stream.name)
            emitter = self._emitters[stream.name] = RecordEmitter(stream, version=version)
        return emitter
