"""singer-sdk's METRIC log lines from the fan-out engine, in the SDK's format and cadence.

Tools that parse a singer-sdk tap's logs (Meltano, log pipelines) read `METRIC: {...}` lines
from the `singer_sdk.metrics` logger: `record_count` per stream (every 60 s and at the end),
`sync_duration` per stream (at the end), `batch_count` with batch_config, and
`http_request_duration` per request. The SDK writes them from its own sync loop, which the
kit replaces, so the kit writes them here with the SDK's own meters.

HTTP requests happen in worker threads that know nothing of streams: the engine names the
partition a worker is fetching (`partition_scope`), and the request metric takes its
stream and context from there.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from singer_sdk import metrics as sdk_metrics
from singer_sdk.streams import Stream
from typing_extensions import override

_current = threading.local()
_HTTP_ERROR_FROM = 400


@contextlib.contextmanager
def partition_scope(stream: Stream, context: Mapping[str, Any] | None) -> Iterator[None]:
    """While a worker fetches this partition, its requests' metrics are tagged with it."""
    _current.stream, _current.context = stream, context
    try:
        yield
    finally:
        _current.stream = _current.context = None


def log_http_request(url: str, status: int, seconds: float) -> None:
    """One `http_request_duration` timer point, as singer-sdk's REST streams log it."""
    stream: Stream | None = getattr(_current, "stream", None)
    context = getattr(_current, "context", None)
    endpoint = getattr(stream, "path", None) or urlsplit(url).path
    tags: dict[str, Any] = {
        sdk_metrics.Tag.STREAM: stream.name if stream is not None else None,
        sdk_metrics.Tag.ENDPOINT: endpoint,
        sdk_metrics.Tag.HTTP_STATUS_CODE: status,
        sdk_metrics.Tag.STATUS: (sdk_metrics.Status.SUCCEEDED if status < _HTTP_ERROR_FROM
                                 else sdk_metrics.Status.FAILED),
    }
    if context:
        tags[sdk_metrics.Tag.CONTEXT] = dict(context)
    metrics_logger = sdk_metrics.get_metrics_logger()
    if not metrics_logger.isEnabledFor(logging.INFO):
        return  # metrics turned off in the logging config: nothing to build
    point = _Point("timer", sdk_metrics.Metric.HTTP_REQUEST_DURATION, seconds, tags)
    sdk_metrics.log(metrics_logger, point)


class _Point(sdk_metrics.Point):
    """singer-sdk's Point, its JSON made once: a log line asks for it at least twice (the
    secret redaction as the record is made, then the formatter), once per HTTP request."""

    @override
    def __str__(self) -> str:
        text: str | None = self.__dict__.get("_text")
        if text is None:
            text = self.__dict__["_text"] = super().__str__()
        return text


class StreamMeters:
    """The SDK's record counter, batch counter and sync timer of each selected stream."""

    def __init__(self, streams: list[Stream]) -> None:
        self._stack = contextlib.ExitStack()
        self._records: dict[str, sdk_metrics.Counter] = {}
        self._batches: dict[str, sdk_metrics.Counter] = {}
        self._timers: dict[str, sdk_metrics.Timer] = {}
        for stream in streams:
            # The timer first, so it is closed last: the sync ends after its last count.
            self._timers[stream.name] = self._stack.enter_context(
                sdk_metrics.sync_timer(stream.name))
            self._records[stream.name] = self._stack.enter_context(
                sdk_metrics.record_counter(stream.name))

    def records(self, stream: Stream, count: int) -> None:
        counter = self._records.get(stream.name)
        if counter is not None and count:
            counter.increment(count)

    def batch(self, stream: Stream) -> None:
        counter = self._batches.get(stream.name)
        if counter is None:
            counter = self._batches[stream.name] = self._stack.enter_context(
                sdk_metrics.batch_counter(stream.name))
        counter.increment()

    def close(self, error: BaseException | None = None) -> None:
        """Final counts, then each stream's sync_duration (status failed on an error)."""
        if error is None:
            self._stack.close()
        else:
            self._stack.__exit__(type(error), error, error.__traceback__)
