"""The request pipeline shared by every vendor.

Order, per request: count it against its rate-limit bucket (and spot early retries),
then answer the first that applies (the answer goes out once the simulated latency has
passed since the request was taken up, the work of making it included): unknown route 404,
a method the route does not take 405, rate limit 429, auth 401/403 (a wrong credential, or
`forbidden_accounts` / `forbidden_services`; not on public routes such as an OAuth token
endpoint), forced failure (fail_services / fail_accounts) 500, injected fault, the route's
handler (whose 200 `hostile_services` may then spoil, see hostile.py). A stall fault on a
write is slept after the handler ran: the write happened, but the client that timed out
cannot know it. Whatever happens, the answer carries the rate-limit headers (and, with
`echo_credential`, an error answer repeats the credential, see careless.py), and an
unexpected exception becomes the vendor's 500 body, a log line and a count in the stats,
never a stack trace on the wire.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import threading
import time
from importlib import resources
from typing import Any

from vendor_sandbox import hostile
from vendor_sandbox.api import ApiError, Context, Route, VendorApi, json_response
from vendor_sandbox.careless import echo_credential, restate_reset, with_late_account
from vendor_sandbox.config import SandboxConfig
from vendor_sandbox.faults import FaultPlanner
from vendor_sandbox.hashing import unit
from vendor_sandbox.httpserver import Request, Response
from vendor_sandbox.ratelimit import Decision
from vendor_sandbox.stats import Stats
from vendor_sandbox.vendor_x import VendorX
from vendor_sandbox.vendor_y import VendorY
from vendor_sandbox.vendor_z import VendorZ
from vendor_sandbox.world import World, build_world, world_key

log = logging.getLogger("vendor_sandbox")
WORLD_CACHE_SIZE = 8
PROTOCOL_ERROR_CODES = {400: "bad_request", 413: "payload_too_large", 431: "header_too_large"}


class SandboxApp:
    """One simulated vendor. Requests run on one event loop; `update`/`stats` are thread-safe."""

    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._config_lock = threading.Lock()
        self.stats = Stats()
        self._faults = FaultPlanner()
        self._vendor = _vendor_api(config, self.stats)
        self._limiter = self._vendor.make_limiter()
        self._worlds: dict[tuple[object, ...], World] = {}
        self._served = 0
        # Vendor requests still to be refused with 429 whatever their budget says: a vendor
        # cutting budgets for a moment (other jobs on the token, throttling). Set from Python
        # by `Sandbox.refuse_next`; one counter, read and written on the event loop thread.
        self._refuse_next = 0
        self._late_worlds: dict[int, World] = {}  # by id of the world they grew from

    @property
    def config(self) -> SandboxConfig:
        return self._config

    def refuse_next(self, count: int) -> None:
        self._refuse_next = count

    def revoke_tokens(self) -> None:
        if not isinstance(self._vendor, VendorZ):
            raise ValueError("only VendorZ issues access tokens")
        self._vendor.revoke_tokens()

    def update(self, **changes: Any) -> SandboxConfig:
        # Requests read self._config once on arrival, so swapping the reference is enough.
        with self._config_lock:
            self._config = self._config.changed(**changes)
            return self._config

    def world(self, config: SandboxConfig, today: datetime.date) -> World:
        key = world_key(config, today)
        world = self._worlds.get(key)
        if world is None:
            if len(self._worlds) >= WORLD_CACHE_SIZE:
                self._worlds.clear()
            world = self._worlds[key] = build_world(config, today)
        return world

    def protocol_error(self, status: int, message: str, exc: BaseException | None) -> Response:
        """Answer for requests the HTTP layer could not even parse (or a last-resort 500)."""
        if exc is not None:
            self.stats.unexpected_error()
        code = PROTOCOL_ERROR_CODES.get(status, "internal_error")
        return self._vendor.error(status, code, message, "req_protocol")

    async def handle(self, request: Request) -> Response:
        if request.path.startswith("/_sandbox/"):
            return self._sandbox_endpoint(request)
        config = self._config
        today = config.resolved_today()
        world = self.world(config, today)
        if config.late_account_after is not None and self._served >= config.late_account_after:
            world = self._late_worlds.setdefault(id(world), with_late_account(world))
        route, params = self._match(request.path)
        self._served += 1
        request_id = f"req_{self._served:08d}"
        bucket = self._vendor.bucket(request, params, world, config)
        decision = self._limiter.hit(bucket, config.limit_per_window, config.window_s)
        if self._refuse_next > 0 and not decision.limited:
            self._refuse_next -= 1
            decision = dataclasses.replace(decision, limited=True, remaining=0)
        template = route.template if route else "(unmatched)"
        self.stats.request_started(f"{request.method} {template}", decision.early)
        if decision.window_start is not None:
            self.stats.rate_window(bucket, decision.window_start, decision.reset_at,
                                   decision.limited)
        ctx = Context(config, today, world, request, params, request_id, time.time())
        status: int | None = None  # stays None if the request is cancelled (shutdown)
        try:
            try:
                response = await self._respond(ctx, route, decision)
            except Exception:
                log.exception("unexpected error serving %s %s", request.method, request.target)
                self.stats.unexpected_error()
                response = self._vendor.error(
                    500, "internal_error", "unexpected server error", request_id
                )
            if config.echo_credential and response.status >= 400:
                echo_credential(response, self._vendor.presented_credential(request) or "",
                                request.target)
            response.headers.extend(self._vendor.rate_headers(decision, config))
            if config.reset_header != "contract" or config.reset_skew_s:
                restate_reset(response.headers, decision, config)
            response.headers.append(("X-Request-Id", request_id))
            if response.status == 429:
                self._limiter.told(decision)
            status = response.status
            return response
        finally:
            self.stats.request_finished(status)

    def _match(self, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in self._vendor.routes:
            match = route.pattern.match(path)
            if match:
                return route, match.groupdict()
        return None, {}

    async def _respond(self, ctx: Context, route: Route | None, decision: Decision) -> Response:
        if route is None:
            return self._vendor.error(
                404, "not_found", f"no such resource: {ctx.request.path}", ctx.request_id
            )
        config = ctx.config
        delay_s = (config.latency_ms + config.jitter_ms * unit(
            config.seed, "jitter", ctx.request_id
        )) / 1000
        if delay_s <= 0:
            return await self._answer(ctx, route, decision, [])
        # The latency is the whole time to the answer, the sandbox's own work on it included,
        # as a vendor's would be: the answer is made first, then the rest of the latency is
        # slept. Made after the sleep, the answers of requests that arrived together (read in
        # one turn of the event loop) would wake together and wait for each other's work, one
        # event loop for all of them: 16 requests in flight would each wait 20 ms plus sixteen
        # answers' work, and that convoy never breaks up.
        loop = asyncio.get_running_loop()
        started = loop.time()
        stalled: list[float] = []  # stall faults sleep on top of the latency, as before
        try:
            return await self._answer(ctx, route, decision, stalled)
        finally:
            left = delay_s - (loop.time() - started - sum(stalled))
            if left > 0:
                await asyncio.sleep(left)

    async def _answer(self, ctx: Context, route: Route, decision: Decision,
                      stalled: list[float]) -> Response:
        vendor, config = self._vendor, ctx.config
        refusal = self._refusal(ctx, route, decision)
        if refusal is not None:
            return refusal
        key = vendor.fault_key(ctx.request, config)
        ctx.fault = self._faults.decide(config, key, vendor.applicable_faults(route, ctx.request))
        late_write = ctx.fault.kind == "stall" and ctx.request.method != "GET"
        if ctx.fault.kind:
            self.stats.fault(ctx.fault.kind)
            if ctx.fault.kind == "stall" and not late_write:
                await _stall(config.stall_s, stalled)
            injected = vendor.fault_response(ctx)
            if injected is not None:
                return injected
        try:
            response = route.handler(ctx)
        except ApiError as exc:
            return vendor.error(exc.status, exc.code, exc.message, ctx.request_id)
        finally:
            if late_write:
                await _stall(config.stall_s, stalled)
        response = hostile.apply(ctx, vendor, route, response, self.stats)
        if response.status == 200 and ctx.metric_days is not None:
            self.stats.metric_days(*ctx.metric_days)
        return response

    def _refusal(self, ctx: Context, route: Route, decision: Decision) -> Response | None:
        """The contract's refusals, in precedence order, before any fault or handler."""
        vendor, request_id = self._vendor, ctx.request_id
        if ctx.request.method != route.method:
            response = vendor.error(
                405, "method_not_allowed", f"only {route.method} is supported", request_id
            )
            response.headers.append(("Allow", route.method))
            return response
        if decision.limited:
            return vendor.too_many(decision, request_id)
        if not route.public and not vendor.authorized(ctx.request, ctx.config):
            return vendor.auth_failure(request_id)
        denied = _forbidden(vendor, route, ctx.params, ctx.config)
        if denied:
            self.stats.fault("forbidden")
            return vendor.auth_failure(request_id, f"this credential may not read {denied}")
        forced = _forced_failure(vendor, route, ctx.params, ctx.config)
        if forced:
            self.stats.fault(forced)
            return vendor.error(500, "internal_error", "internal error, retry later", request_id)
        return None

    def _sandbox_endpoint(self, request: Request) -> Response:
        """Sandbox-only endpoints: no auth, no latency, no rate limit, not counted."""
        if request.method not in ("GET", "HEAD"):
            return self._vendor.error(
                405, "method_not_allowed", "only GET is supported", "req_sandbox"
            )
        if request.path == "/_sandbox/stats":
            return json_response(200, self.stats.snapshot())
        if request.path == "/_sandbox/openapi.yaml":
            document = (
                resources.files("vendor_sandbox") / "openapi" / f"vendor{self._vendor.name}.yaml"
            )
            return Response(200, document.read_bytes(), "application/yaml")
        return self._vendor.error(
            404, "not_found", f"no such resource: {request.path}", "req_sandbox"
        )


def _vendor_api(config: SandboxConfig, stats: Stats) -> VendorApi:
    if config.vendor == "z":
        return VendorZ(stats)
    return VendorX() if config.vendor == "x" else VendorY()


def _forbidden(
    vendor: VendorApi, route: Route, params: dict[str, str], config: SandboxConfig
) -> str | None:
    """What the credential may not read in this request (`forbidden_*` knobs), if anything."""
    account = params.get(vendor.account_param)
    if route.scope in ("services", "metrics") and account in config.forbidden_accounts:
        return f"account {account}"
    service = params.get(vendor.service_param)
    if route.scope == "metrics" and service in config.forbidden_services:
        return f"service {service}"
    return None


def _forced_failure(
    vendor: VendorApi, route: Route, params: dict[str, str], config: SandboxConfig
) -> str | None:
    """The stats key of an always-failing account/service this request touches, if any."""
    account = params.get(vendor.account_param)
    if route.scope in ("services", "metrics") and account in config.fail_accounts:
        return "fail_account"
    if route.scope == "metrics" and params.get(vendor.service_param) in config.fail_services:
        return "fail_service"
    return None


async def _stall(seconds: float, stalled: list[float]) -> None:
    stalled.append(seconds)
    await asyncio.sleep(seconds)
