"""A minimal asyncio HTTP/1.1 server: keep-alive, Content-Length bodies, nothing more.

(Only the sandbox's hostile modes stream a body: chunked, at their own pace, see `stream`.)

asyncio rather than threads so that hundreds of requests sleeping their simulated
latency cost a coroutine each, not a thread each. Routing and semantics live in the
handler; this module only speaks the protocol, and a handler that raises never leaks a
stack trace: the `fallback` turns it into the vendor's 500 body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote

log = logging.getLogger("vendor_sandbox.http")

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024
IDLE_TIMEOUT_S = 120.0
BACKLOG = 1024  # a burst of hundreds of connects must not overflow the accept queue


@dataclass
class Request:
    method: str
    target: str
    path: str
    query: dict[str, str]  # first value of each parameter
    headers: dict[str, str]  # lower-case names
    version: str = "HTTP/1.1"
    body: bytes = b""


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    # A body produced piece by piece (sent chunked, `body` unused): a body that trickles in
    # or never ends. Each item is written and drained before the next is asked for.
    stream: AsyncIterator[bytes] | None = None


Handler = Callable[[Request], Awaitable[Response]]
# Builds the response for a protocol-level failure: (status, message, exception or None).
Fallback = Callable[[int, str, BaseException | None], Response]


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_head(head: bytes) -> Request:
    lines = head.decode("latin-1").split("\r\n")
    while lines and not lines[0]:
        lines.pop(0)  # RFC 9112: ignore empty lines before the request line
    parts = lines[0].split(" ") if lines else []
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, "malformed request line")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(400, "malformed header line")
        headers[name.lower()] = value.strip()
    if target.startswith(("http://", "https://")):
        target = "/" + target.split("://", 1)[1].partition("/")[2]  # absolute-form
    raw_path, _, raw_query = target.partition("?")
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True, max_num_fields=100):
        query.setdefault(key, value)
    return Request(method, target, unquote(raw_path), query, headers, version)


def _keep_alive(request: Request) -> bool:
    connection = request.headers.get("connection", "").lower()
    if request.version == "HTTP/1.0":
        return "keep-alive" in connection
    return "close" not in connection


def _serialize(response: Response, keep_alive: bool, head_only: bool) -> bytes:
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Unknown"
    framing = ("Transfer-Encoding: chunked" if response.stream is not None
               else f"Content-Length: {len(response.body)}")
    lines = [
        f"HTTP/1.1 {response.status} {reason}",
        f"Content-Type: {response.content_type}",
        framing,
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
    ]
    lines.extend(f"{name}: {value}" for name, value in response.headers)
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + response.body


class HttpServer:
    def __init__(self, handler: Handler, fallback: Fallback) -> None:
        self._handler = handler
        self._fallback = fallback
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._closing = False

    async def start(self, host: str, port: int) -> int:
        """Listen on (host, port) and return the bound port."""
        self._server = await asyncio.start_server(
            self._accept, host, port, limit=MAX_HEAD_BYTES, backlog=BACKLOG
        )
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def close(self) -> None:
        """Stop listening, cancel every connection (stalled requests too), wait for them.

        Connections are aborted, not closed gracefully: a graceful close waits until the
        client has read what was written, and a client that stopped reading (or stalled on
        an endless body) would keep the server, and its thread, alive for good.
        """
        self._closing = True
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback that creates the task itself, so that every connection is in
        # self._connections from the start and close() can never miss one that has not
        # run yet (a coroutine callback would be wrapped in a task asyncio keeps to itself).
        task = asyncio.get_running_loop().create_task(self._connection(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: nothing to answer
        finally:
            if self._closing:
                writer.transport.abort()
            else:
                writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT_S)
            except (asyncio.IncompleteReadError, asyncio.TimeoutError):
                return  # clean EOF between requests, or an idle keep-alive connection
            except asyncio.LimitOverrunError:
                await self._refuse(writer, 431, "request head too large")
                return
            try:
                request = parse_head(head)
                await self._read_body(reader, request)
            except BadRequest as exc:
                await self._refuse(writer, exc.status, str(exc))
                return
            try:
                response = await self._handler(request)
            except Exception as exc:  # the handler's own safety net failed: still no trace out
                log.exception("unhandled error serving %s %s", request.method, request.target)
                response = self._fallback(500, "internal error", exc)
            keep_alive = _keep_alive(request)
            head_only = request.method == "HEAD"
            writer.write(_serialize(response, keep_alive, head_only))
            await writer.drain()
            if response.stream is not None and not head_only:
                await _send_chunked(writer, response.stream)
            if not keep_alive:
                return

    async def _read_body(self, reader: asyncio.StreamReader, request: Request) -> None:
        """Read the body into `request.body` (POSTs carry one; framing must hold for all)."""
        if "transfer-encoding" in request.headers:
            raise BadRequest(400, "chunked request bodies are not supported")
        length_text = request.headers.get("content-length", "0")
        if not length_text.isdigit():
            raise BadRequest(400, "invalid Content-Length")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            raise BadRequest(413, "request body too large")
        if length:
            request.body = await reader.readexactly(length)

    async def _refuse(self, writer: asyncio.StreamWriter, status: int, message: str) -> None:
        response = self._fallback(status, message, None)
        writer.write(_serialize(response, keep_alive=False, head_only=False))
        with contextlib.suppress(ConnectionError):
            await writer.drain()


async def _send_chunked(writer: asyncio.StreamWriter, stream: AsyncIterator[bytes]) -> None:
    """Write `stream` as HTTP/1.1 chunks; stops (the generator is closed) if the client leaves."""
    try:
        async for piece in stream:
            if piece:
                writer.write(b"%x\r\n%b\r\n" % (len(piece), piece))
                await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
