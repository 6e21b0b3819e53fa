"""Writing a partition's records: singer-sdk's full path only when something needs it.

singer-sdk sends every record through selection pruning, recursive type conformance and
the stream maps, then stamps it with its own clock reading. For a stream whose properties
are all selected, with no stream map and no flattening, those steps reduce to dropping
properties the schema does not declare — which is all this fast path does. Anything else
(a map, a deselected field, flattening) takes the SDK's own path, so the output means the
same either way.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib import RecordMessage
from singer_sdk.streams import Stream

from singer_fanout import sdk_seam
from singer_fanout.writer import StateFlushingWriter

logger = logging.getLogger("singer_fanout.emit")


class RecordEmitter:
    """Writes one stream's records; built once per stream per run."""

    def __init__(self, stream: Stream, *, version: int | None = None) -> None:
        self._stream = stream
        self._version = version  # the table version RECORD messages carry, if any
        self._declared = frozenset(stream.effective_schema.get("properties", {}))
        self._fast = self._fast_path_applies(stream)
        self._warned_unknown: set[str] = set()

    @staticmethod
    def _fast_path_applies(stream: Stream) -> bool:
        maps = stream.stream_maps
        if len(maps) != 1 or type(maps[0]) is not SameRecordTransform:
            return False
        if maps[0].flattening_enabled:
            return False
        mask = stream.mask
        return all(mask.get(("properties", name), True) for name in
                   stream.effective_schema.get("properties", {}))

    def write(self, records: list[dict[str, Any]]) -> None:
        if not self._fast:
            for record in records:
                sdk_seam.write_record_the_sdk_way(self._stream, record)
            return
        # One clock reading per partition: its records were extracted together.
        extracted = dt.datetime.now(dt.timezone.utc)
        clean = self.declared_only(records)
        writer = sdk_seam.tap_of(self._stream).message_writer
        if isinstance(writer, StateFlushingWriter):
            writer.write_records(self._stream.name, clean, extracted, version=self._version)
            return
        for record in clean:
            writer.write_message(
                RecordMessage(stream=self._stream.name, record=record, version=self._version,
                              time_extracted=extracted)
            )

    def declared_only(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records without the fields the schema does not declare (said once each)."""
        return [
            record if self._declared.issuperset(record) else self._drop_undeclared(record)
            for record in records
        ]

    def _drop_undeclared(self, record: dict[str, Any]) -> dict[str, Any]:
        unknown = set(record) - self._declared
        new = unknown - self._warned_unknown
        if new:
            # A vendor adding fields is normal; the schema is the contract, so they are
            # dropped, and said once per stream and field rather than per record.
            logger.warning("stream '%s': dropping fields the schema does not declare: %s",
                           self._stream.name, ", ".join(sorted(new)))
            self._warned_unknown |= new
        return {key: value for key, value in record.items() if key in self._declared}
