"""Reading a response body within a whole-response deadline and a size cap, as it streams in.

urllib3's read timeout bounds each wait for the socket, not the response: a body trickling
a byte every half second never trips it. And a body read whole before anyone looks at its
size lets an endless or gigantic answer take the process's memory. So the body is read in
chunks; before each read the socket's timeout is cut to what is left of the deadline, and
after each read the size so far is checked against the cap. Either limit abandons the
connection (it is never put back into the pool with a body half read) and fails the
attempt, naming the setting; the client then retries or fails the partition as usual.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import urllib3
from urllib3.exceptions import HTTPError

from singer_fanout.errors import RetryableError

CHUNK_BYTES = 16 * 1024
MIB = 1024 * 1024


@dataclass(frozen=True)
class BodyLimits:
    deadline_s: float  # from sending the request to the body's last byte
    max_bytes: int  # of the body as the client sees it (after any content decoding)
    read_timeout_s: float  # the longest single wait for the socket

    def describe_cap(self) -> str:
        unit, name = (MIB, "MiB") if self.max_bytes >= MIB else (1024, "KiB")
        return f"max_response_bytes ({self.max_bytes} bytes = {self.max_bytes / unit:g} {name})"


def read_bounded(
    raw: urllib3.BaseHTTPResponse,
    *,
    started: float,
    limits: BodyLimits,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """The whole body of `raw`, or RetryableError once a limit is passed.

    `started` is the `clock()` reading taken before the request was sent.
    """
    declared = raw.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        _abandon(raw)
        raise RetryableError(
            f"the response announces {int(declared)} bytes, more than {limits.describe_cap()}",
            cause="max_response_bytes",
        )
    pieces: list[bytes] = []  # not a growing bytearray: it over-allocates past the cap
    size = 0
    try:
        while True:
            left = limits.deadline_s - (clock() - started)
            if left <= 0:
                raise _past_deadline(limits, size)
            _set_socket_timeout(raw, min(limits.read_timeout_s, left))
            # Never more than one byte past the cap: that byte is what proves it passed.
            piece = raw.read1(min(CHUNK_BYTES, limits.max_bytes - size + 1))
            if not piece:
                break
            size += len(piece)
            if size > limits.max_bytes:
                raise RetryableError(
                    f"the response is larger than {limits.describe_cap()}; stopped reading "
                    f"after {size} bytes", cause="max_response_bytes",
                )
            pieces.append(piece)
    except RetryableError:
        pieces.clear()  # the traceback keeps this frame alive until the error is handled
        _abandon(raw)
        raise
    except (HTTPError, OSError) as error:
        pieces.clear()
        _abandon(raw)
        if clock() - started >= limits.deadline_s:
            raise _past_deadline(limits, size) from None
        raise RetryableError(
            f"the connection broke after {size} bytes of the body ({type(error).__name__})",
            cause="connection broke mid-body",
        ) from None
    raw.release_conn()
    return b"".join(pieces)


def _past_deadline(limits: BodyLimits, size: int) -> RetryableError:
    return RetryableError(
        f"the response took longer than response_deadline ({limits.deadline_s:g}s); "
        f"abandoned after {size} bytes of the body", cause="response_deadline",
    )


def _set_socket_timeout(raw: urllib3.BaseHTTPResponse, seconds: float) -> None:
    # The connection's socket is what a body read waits on; its timeout is per wait, so
    # shrinking it to the deadline's remainder makes the deadline hold within one read.
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


def _abandon(raw: urllib3.BaseHTTPResponse) -> None:
    """Close the connection (its body is half read, it cannot serve another request)."""
    try:
        raw.close()
    finally:
        raw.release_conn()
