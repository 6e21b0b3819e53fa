"""Every use of singer-sdk internals, in one place.

The kit replaces singer-sdk's sync loop but keeps its streams, messages, settings and CLI.
Where that needs something the SDK does not publish (a method it marks final, a private
helper, a private attribute), it is used here and nowhere else. tests/singer_fanout/
test_sdk_seam.py checks each entry of `PRIVATE_METHODS` and `PRIVATE_ATTRIBUTES` against the
installed SDK, so a release that renames or changes one fails there, by name, instead of
somewhere in the middle of a sync.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from types import FrameType
from typing import TYPE_CHECKING, Any

from singer_sdk import Tap
from singer_sdk.streams import Stream
from typing_extensions import override

if TYPE_CHECKING:
    from singer_sdk.helpers._batch import BaseBatchFileEncoding

# (class, method, its parameters after self): what the kit calls or overrides.
PRIVATE_METHODS: tuple[tuple[type, str, tuple[str, ...]], ...] = (
    (Tap, "sync_all", ()),  # final in the SDK; overridden below
    (Tap, "_handle_termination", ("signum", "frame")),  # the SIGTERM/SIGINT handler
    (Tap, "_reset_state_progress_markers", ()),
    (Tap, "_set_compatible_replication_methods", ()),
    (Stream, "_write_schema_message", ()),
    (Stream, "_write_record_message", ("record",)),
    (Stream, "_write_batch_message", ("encoding", "manifest")),
    (Stream, "_write_activate_version_message", ("full_table_version",)),
)
# Attributes a stream instance has, which the kit reads or sets.
PRIVATE_ATTRIBUTES: tuple[str, ...] = ("_tap", "_stream_version")

# The `--state` the kit already parsed and checked, on its way into the tap being built.
_CHECKED_STATE: ContextVar[dict[str, Any] | None] = ContextVar("checked_state", default=None)


class SdkSyncSeam(Tap):
    """singer-sdk's Tap with its sync loop and signal handler handed to the kit."""

    # singer-sdk marks sync_all final; replacing it is the whole point of the kit (its
    # sequential child sync is what the kit exists to avoid), so it is overridden knowingly.
    # The SDK's own path (`run_sync_dry_run`, used by its standard tests) still works on the
    # same streams.
    def sync_all(self) -> None:  # type: ignore[misc]
        self.run_fanout_sync()

    def run_fanout_sync(self) -> None:
        raise NotImplementedError

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        self.on_termination_signal(signum)

    def on_termination_signal(self, signum: int) -> None:
        raise NotImplementedError

    @classmethod
    def invoke_with_state(cls, state: dict[str, Any] | None, **options: Any) -> None:
        """singer-sdk's `invoke`, with the `--state` already parsed (and checked) by the kit.

        The SDK's own `invoke` parses the state file's text again; the text (and an
        `io.StringIO` of it: 4 bytes a character) and a second copy of the state would
        then live as long as the run: ~150 MB at 100,000 partitions. Here the SDK gets no
        state and `load_state` takes the kit's.
        """
        token = _CHECKED_STATE.set(state)
        try:
            super().invoke(state=None, **options)
        finally:
            _CHECKED_STATE.reset(token)

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        checked = _CHECKED_STATE.get()
        if checked is not None and not state:
            _CHECKED_STATE.set(None)  # the tap the CLI builds takes it; no other one
            state = checked
        super().load_state(state)


def prepare_streams_for_sync(tap: Tap) -> None:
    """What the SDK's sync_all does before syncing: progress markers, replication methods."""
    tap._reset_state_progress_markers()
    tap._set_compatible_replication_methods()


def tap_of(stream: Stream) -> Tap:
    return stream._tap


def write_schema(stream: Stream) -> None:
    """SCHEMA for each of the stream's maps (aliases, or none for a removed stream)."""
    stream._write_schema_message()


def write_record_the_sdk_way(stream: Stream, record: dict[str, Any]) -> None:
    """Selection pruning, type conformance, stream maps, then RECORD (with the version)."""
    stream._write_record_message(record)


def write_batch(stream: Stream, encoding: BaseBatchFileEncoding, manifest: list[str]) -> None:
    stream._write_batch_message(encoding=encoding, manifest=manifest)


def start_table_version(stream: Stream) -> int:
    """A new version of a full-table stream: its RECORD messages carry it from now on.

    Milliseconds since the epoch, as Singer taps use, so a later run's version is larger.
    """
    version = int(time.time() * 1000)
    stream._stream_version = version
    return version


def table_version(stream: Stream) -> int | None:
    version: int | None = stream._stream_version
    return version


def write_activate_version(stream: Stream, version: int) -> None:
    stream._write_activate_version_message(version)
