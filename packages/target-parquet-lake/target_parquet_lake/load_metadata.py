"""Load metadata columns: what orders records without looking at file names.

`_sdc_sequence` is a nanosecond clock reading, one per record, handed out in blocks
at each flush and strictly increasing within a process (a block never starts before
the previous one ended). Runs of a stream follow each other in time, so a record
loaded later always has a larger sequence, and "latest value per key" is
`ORDER BY _sdc_sequence DESC`. (The SDK's own `_sdc_sequence` is a millisecond reading
per record, so two records of one key in the same millisecond would tie.)

Every file also carries the stream's key properties in its Arrow schema metadata,
which is how `target-parquet-compact` knows the primary key of a stream.
"""

from __future__ import annotations

import datetime
import json
import threading
import time

import pyarrow as pa

EXTRACTED_AT = "_sdc_extracted_at"
BATCHED_AT = "_sdc_batched_at"
SEQUENCE = "_sdc_sequence"
METADATA_COLUMNS = (EXTRACTED_AT, BATCHED_AT, SEQUENCE)
_TIMESTAMP = pa.timestamp("us", tz="UTC")
METADATA_FIELDS = (
    pa.field(EXTRACTED_AT, _TIMESTAMP, nullable=True),  # taps may not send time_extracted
    pa.field(BATCHED_AT, _TIMESTAMP, nullable=False),
    pa.field(SEQUENCE, pa.int64(), nullable=False),
)
KEY_PROPERTIES = b"target_parquet.key_properties"


def with_key_properties(schema: pa.Schema, key_properties: list[str]) -> pa.Schema:
    """The schema, carrying the stream's key properties for the compactor."""
    metadata = dict(schema.metadata or {})
    metadata[KEY_PROPERTIES] = json.dumps(list(key_properties)).encode()
    return schema.with_metadata(metadata)


def key_properties_of(schema: pa.Schema) -> list[str] | None:
    """The key properties a file was written with (None: written without them)."""
    raw = (schema.metadata or {}).get(KEY_PROPERTIES)
    return None if raw is None else list(json.loads(raw))


class SequenceClock:
    """Hands out blocks of strictly increasing `_sdc_sequence` numbers."""

    def __init__(self) -> None:
        """Start with nothing handed out."""
        self._lock = threading.Lock()  # sinks are drained in parallel threads
        self._next = 0

    def take(self, count: int) -> int:
        """First number of a block of `count`, all larger than any handed out before."""
        with self._lock:
            start = max(self._next, time.time_ns())
            self._next = start + count
            return start


def metadata_arrays(
    extracted_at: list[str | None],
    sequence_start: int,
    batched_at: datetime.datetime,
) -> list[pa.Array]:
    """The three metadata columns for one flush, in METADATA_COLUMNS order.

    Raises:
        pyarrow.ArrowInvalid: a `time_extracted` that is not an ISO 8601 timestamp.
    """
    rows = len(extracted_at)
    return [
        pa.array(extracted_at, pa.string()).cast(_TIMESTAMP),
        pa.repeat(pa.scalar(batched_at, _TIMESTAMP), rows),
        pa.array(range(sequence_start, sequence_start + rows), pa.int64()),
    ]
