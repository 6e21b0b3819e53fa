"""VendorY: API-key auth (403), opaque cursors, hourly long-format usage, one day per call."""

from __future__ import annotations

import math
import re
from typing import Any

from vendor_sandbox import cursor
from vendor_sandbox.api import (
    ApiError,
    Context,
    Route,
    VendorApi,
    account_in_path,
    json_response,
    parse_int,
    refuse_failing_days,
    service_in_path,
)
from vendor_sandbox.config import CONTRACT_PAGE_MAX, DEFAULT_PAGE_SIZE, SandboxConfig
from vendor_sandbox.hashing import unit
from vendor_sandbox.httpserver import Request, Response
from vendor_sandbox.ratelimit import Decision
from vendor_sandbox.values import utc_day, y_usage
from vendor_sandbox.world import Account, Service, World, epoch

MAX_WINDOW_S = 86_400
RETENTION_S = 395 * 86_400  # 13 months
_EPOCH = re.compile(r"^\d{1,11}$")
_GATEWAY_PAGE = (
    "<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}"
    "</h1></center><hr><center>vendory-gateway</center></body></html>\n"
)
_GATEWAY = ((502, "Bad Gateway"), (503, "Service Unavailable"))


def org_json(account: Account) -> dict[str, Any]:
    return {
        "org_id": account.id,
        "display_name": account.name,
        "tier": account.plan,
        "created_ts": int(account.created.timestamp()),
    }


def app_json(app: Service) -> dict[str, Any]:
    return {
        "app_id": app.id,
        "org_id": app.account_id,
        "label": app.name,
        "runtime": app.kind,
        "created_ts": int(app.created.timestamp()),
        "archived": app.deleted is not None,
    }


def _cursor(ctx: Context) -> str:
    return ctx.request.query.get("cursor", "")  # an empty cursor means the first page


def _paginate(ctx: Context, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    query = ctx.request.query
    requested = parse_int(query, "limit", DEFAULT_PAGE_SIZE["y"], 1, CONTRACT_PAGE_MAX["y"])
    limit = min(requested, ctx.config.page_max)  # a smaller server max clamps, as real APIs do
    seed = ctx.config.seed
    query_fingerprint = cursor.fingerprint(ctx.request.path, query)
    offset = 0
    if _cursor(ctx):
        try:
            offset = cursor.read(
                seed, _cursor(ctx), query_fingerprint, ctx.now, ctx.config.cursor_ttl_s
            )
        except cursor.CursorError as exc:
            raise ApiError(400, "invalid_cursor", str(exc)) from None
    end = offset + limit
    next_cursor = cursor.issue(seed, query_fingerprint, end, ctx.now) if end < len(items) else None
    return items[offset:end], next_cursor


def list_orgs(ctx: Context) -> Response:
    items, next_cursor = _paginate(ctx, [org_json(org) for org in ctx.world.accounts])
    return json_response(200, {"items": items, "next_cursor": next_cursor})


def list_apps(ctx: Context) -> Response:
    org = account_in_path(ctx, "org_id", "org")
    items, next_cursor = _paginate(ctx, [app_json(app) for app in ctx.world.services[org.id]])
    return json_response(200, {"items": items, "next_cursor": next_cursor})


def _epoch_param(ctx: Context, name: str) -> int:
    text = ctx.request.query.get(name, "")
    if not _EPOCH.match(text):
        raise ApiError(400, "invalid_parameter", f"{name} is required, as integer epoch seconds")
    return int(text)


def hourly_usage(ctx: Context) -> Response:
    app = service_in_path(ctx, "org_id", "app_id", ("org", "app"))
    start, end = _epoch_param(ctx, "start_ts"), _epoch_param(ctx, "end_ts")
    now = epoch(ctx.today)  # data is published per whole day: "now" is today 00:00 UTC
    if start >= end:
        raise ApiError(422, "invalid_range", "start_ts must be before end_ts")
    if end > now:
        raise ApiError(422, "invalid_range", f"end_ts must not be after {now} (today 00:00 UTC)")
    if end - start > MAX_WINDOW_S:
        raise ApiError(400, "range_too_large", f"at most {MAX_WINDOW_S} seconds per request")
    if start < now - RETENTION_S:
        raise ApiError(410, "data_expired", "usage is kept for 13 months")
    refuse_failing_days(ctx, utc_day(start), utc_day(end - 1))
    window = y_usage(ctx.world, app, start, end, ctx.today)
    rows, next_cursor = _paginate(ctx, window.rows)
    body: dict[str, Any] = {
        "items": rows,
        "next_cursor": next_cursor,
        "incomplete": bool(window.missing_hours),
        "missing_hours": window.missing_hours,
    }
    if ctx.fault.kind == "partial_200":
        body["items"] = _drop_a_shard(rows, ctx.fault.pick)
        body["errors"] = [
            {"code": "shard_unavailable", "detail": "some hours could not be read, retry later"}
        ]
    if not _cursor(ctx):  # a window counts once, not once per page
        ctx.metric_days = (app.id, math.ceil((end - start) / 86_400))
    return json_response(200, body)


def _drop_a_shard(rows: list[dict[str, Any]], salt: float) -> list[dict[str, Any]]:
    """Keep about half of the hours; always lose at least one when there is any."""
    hours = sorted({row["ts"] for row in rows})
    lost = {hour for hour in hours if unit("shard", salt, hour) < 0.5} or set(hours[-1:])
    return [row for row in rows if row["ts"] not in lost]


class VendorY(VendorApi):
    name = "y"
    account_param = "org_id"
    service_param = "app_id"
    routes = (
        Route("/api/v2/orgs", list_orgs, "accounts"),
        Route("/api/v2/orgs/{org_id}/apps", list_apps, "services"),
        Route("/api/v2/orgs/{org_id}/apps/{app_id}/usage/hourly", hourly_usage, "metrics"),
    )

    def error(self, status: int, code: str, message: str, request_id: str) -> Response:
        return json_response(status, {"errors": [{"code": code, "detail": message}]})

    def authorized(self, request: Request, config: SandboxConfig) -> bool:
        return request.headers.get("x-api-key") == config.token

    def presented_credential(self, request: Request) -> str | None:
        return request.headers.get("x-api-key")

    def auth_failure(self, request_id: str, message: str | None = None) -> Response:
        text = message or "missing or invalid X-Api-Key"
        return self.error(403, "forbidden", text, request_id)

    def bucket(
        self, request: Request, params: dict[str, str], world: World, config: SandboxConfig
    ) -> str:
        # Per org in the path; org listing and unknown orgs/routes share the global bucket.
        org = params.get("org_id")
        return f"org:{org}" if org in world.account_by_id else "global"

    def rate_headers(self, decision: Decision, config: SandboxConfig) -> list[tuple[str, str]]:
        return [
            ("X-RateLimit-Limit", str(decision.limit)),
            ("X-RateLimit-Remaining", str(decision.remaining)),
            ("X-RateLimit-Period", str(math.ceil(config.window_s))),
            ("X-RateLimit-Reset", str(math.ceil(decision.seconds_to_reset()))),
        ]

    def too_many(self, decision: Decision, request_id: str) -> Response:
        # No Retry-After on purpose: the client must read X-RateLimit-Reset.
        return self.error(429, "rate_limited", "rate limit exceeded for this org", request_id)

    def applicable_faults(self, route: Route, request: Request) -> frozenset[str]:
        kinds = {"error_5xx", "retry_after_503", "html_502", "stall"}
        if route.scope == "metrics":
            kinds.add("partial_200")
        if request.query.get("cursor"):
            kinds.add("expired_cursor")
        return frozenset(kinds)

    def fault_key(self, request: Request, config: SandboxConfig) -> str:
        # The cursor embeds its issue time: key on the offset it points at instead.
        query = dict(request.query)
        if query.get("cursor"):
            offset = cursor.peek_offset(config.seed, query["cursor"])
            query["cursor"] = f"@{offset}" if offset is not None else query["cursor"]
        text = "&".join(f"{k}={v}" for k, v in sorted(query.items()))
        return f"{request.path}?{text}"

    def fault_response(self, ctx: Context) -> Response | None:
        kind, pick = ctx.fault.kind, ctx.fault.pick
        if kind == "error_5xx":
            return self.error(500, "internal_error", "internal error, please retry", ctx.request_id)
        if kind == "retry_after_503":
            response = self.error(503, "service_unavailable", "try again later", ctx.request_id)
            response.headers.append(("Retry-After", str(ctx.config.retry_after_s)))
            return response
        if kind == "html_502":
            return _gateway_page(*_GATEWAY[int(pick * len(_GATEWAY))])
        if kind == "stall":
            return _gateway_page(504, "Gateway Time-out")
        if kind == "expired_cursor":
            return self.error(400, "invalid_cursor", "cursor has expired", ctx.request_id)
        return None  # partial_200 is applied by the usage handler


def _gateway_page(status: int, reason: str) -> Response:
    body = _GATEWAY_PAGE.format(status=status, reason=reason).encode()
    return Response(status, body, "text/html; charset=utf-8")
