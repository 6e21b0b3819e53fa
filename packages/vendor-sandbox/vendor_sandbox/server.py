"""Running the sandbox: in-process for tests (`run_sandbox`), or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

from vendor_sandbox.app import SandboxApp
from vendor_sandbox.config import SandboxConfig, bind_address
from vendor_sandbox.httpserver import HttpServer

# Upper bounds, not expectations (both take milliseconds): generous, because a machine busy
# with other work can starve a thread for seconds.
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


def base_url(address: str, port: int) -> str:
    return f"http://[{address}]:{port}" if ":" in address else f"http://{address}:{port}"


class Sandbox:
    """Handle on a running sandbox. Every method is safe to call from any thread."""

    def __init__(self, app: SandboxApp, url: str) -> None:
        self._app = app
        self.url = url

    @property
    def config(self) -> SandboxConfig:
        """The current configuration: `truth_records(sandbox.config)` is what it serves."""
        return self._app.config

    def stats(self) -> dict[str, Any]:
        return self._app.stats.snapshot()

    def reset_stats(self) -> None:
        self._app.stats.reset()

    def refuse_next(self, count: int) -> None:
        """Answer the next `count` vendor requests 429 (with the usual rate-limit headers),
        whatever the budget: a burst of 429s on demand, for clients' tests."""
        self._app.refuse_next(count)  # one int assignment: safe from any thread

    def revoke_tokens(self) -> None:
        """VendorZ: every access token issued so far answers 401 invalid_token from now on."""
        self._app.revoke_tokens()  # one float assignment: safe from any thread

    def update(self, **changes: Any) -> SandboxConfig:
        """Change knobs live (e.g. clear faults, move `today`); returns the new config."""
        return self._app.update(**changes)


async def _start(app: SandboxApp) -> tuple[HttpServer, str]:
    address = bind_address(app.config.host)
    server = HttpServer(app.handle, app.protocol_error)
    port = await server.start(address, app.config.port)
    return server, base_url(address, port)


@contextlib.contextmanager
def run_sandbox(config: SandboxConfig) -> Iterator[Sandbox]:
    """Serve `config` on loopback from a daemon thread with its own event loop."""
    app = SandboxApp(config)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    outcome: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            outcome["server"], outcome["url"] = loop.run_until_complete(_start(app))
        except BaseException as exc:  # reported to the caller's thread below
            outcome["error"] = exc
            started.set()
            loop.close()
            return
        started.set()
        try:
            loop.run_forever()
            loop.run_until_complete(outcome["server"].close())
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="vendor-sandbox", daemon=True)
    thread.start()
    if not started.wait(START_TIMEOUT_S):
        loop.call_soon_threadsafe(loop.stop)  # if it starts after all, it stops at once
        raise RuntimeError(f"the sandbox did not start within {START_TIMEOUT_S:g}s")
    if "error" in outcome:
        thread.join()
        raise outcome["error"]
    try:
        yield Sandbox(app, outcome["url"])
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            # Said here, not discovered later as a server still listening in another test.
            raise RuntimeError(f"the sandbox at {outcome['url']} did not stop within "
                               f"{STOP_TIMEOUT_S:g}s")


def serve_forever(config: SandboxConfig, on_ready: Callable[[str], None]) -> None:
    """Serve in the foreground until SIGINT or SIGTERM."""

    async def main() -> None:
        app = SandboxApp(config)
        server, url = await _start(app)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        on_ready(url)
        try:
            await stop.wait()
        finally:
            await server.close()

    asyncio.run(main())
