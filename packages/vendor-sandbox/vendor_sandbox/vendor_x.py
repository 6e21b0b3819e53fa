"""VendorX: bearer auth, page-numbered lists, many days per metrics call (Fastly/DO style)."""

from __future__ import annotations

import datetime
import math
import re
from typing import Any

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
from vendor_sandbox.httpserver import Request, Response
from vendor_sandbox.ratelimit import Decision
from vendor_sandbox.values import rfc3339, x_daily_rows
from vendor_sandbox.world import Account, Service, World

MAX_WINDOW_DAYS = 31
RETENTION_DAYS = 400
MAX_PAGE_NUMBER = 10**9 - 1
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_5XX = ((500, "internal_error"), (502, "bad_gateway"), (503, "service_unavailable"))


def account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "plan": account.plan,
        "created_at": rfc3339(account.created),
    }


def service_json(service: Service) -> dict[str, Any]:
    return {
        "id": service.id,
        "account_id": service.account_id,
        "name": service.name,
        "type": service.kind,
        "region": service.region,
        "created_at": rfc3339(service.created),
        "deleted_at": rfc3339(service.deleted) if service.deleted else None,
    }


def _page(ctx: Context, items: list[dict[str, Any]]) -> Response:
    query = ctx.request.query
    page = parse_int(query, "page", 1, 1, MAX_PAGE_NUMBER)
    requested = parse_int(query, "per_page", DEFAULT_PAGE_SIZE["x"], 1, CONTRACT_PAGE_MAX["x"])
    per_page = min(requested, ctx.config.page_max)  # a smaller server max clamps, as real APIs do
    total = len(items)
    return json_response(
        200,
        {
            "data": items[(page - 1) * per_page : page * per_page],
            "meta": {
                "page": page,
                "per_page": per_page,
                "total_count": total,
                "total_pages": math.ceil(total / per_page),
            },
        },
    )


def list_accounts(ctx: Context) -> Response:
    return _page(ctx, [account_json(account) for account in ctx.world.accounts])


def list_services(ctx: Context) -> Response:
    account = account_in_path(ctx, "account_id", "account")
    return _page(ctx, [service_json(service) for service in ctx.world.services[account.id]])


def _date_param(ctx: Context, name: str) -> datetime.date:
    text = ctx.request.query.get(name, "")
    try:
        if _DATE.match(text):
            return datetime.date.fromisoformat(text)
    except ValueError:
        pass
    raise ApiError(400, "invalid_parameter", f"{name} is required, as YYYY-MM-DD")


def daily_metrics(ctx: Context) -> Response:
    service = service_in_path(ctx, "account_id", "service_id", ("account", "service"))
    start, end = _date_param(ctx, "start_date"), _date_param(ctx, "end_date")
    if start > end:
        raise ApiError(422, "invalid_range", "start_date must not be after end_date")
    days = (end - start).days + 1
    if days > MAX_WINDOW_DAYS:
        raise ApiError(400, "window_too_large", f"at most {MAX_WINDOW_DAYS} days per request")
    if start < ctx.today - datetime.timedelta(days=RETENTION_DAYS):
        raise ApiError(400, "out_of_retention", f"data is kept for {RETENTION_DAYS} days")
    refuse_failing_days(ctx, start, end)
    ctx.metric_days = (service.id, days)
    rows = x_daily_rows(ctx.world, service, start, end, ctx.today)
    return json_response(200, {"service_id": service.id, "granularity": "day", "data": rows})


class VendorX(VendorApi):
    name = "x"
    account_param = "account_id"
    service_param = "service_id"
    routes = (
        Route("/v1/accounts", list_accounts, "accounts"),
        Route("/v1/accounts/{account_id}/services", list_services, "services"),
        Route(
            "/v1/accounts/{account_id}/services/{service_id}/metrics/daily",
            daily_metrics,
            "metrics",
        ),
    )

    def error(self, status: int, code: str, message: str, request_id: str) -> Response:
        body = {"error": {"code": code, "message": message, "request_id": request_id}}
        return json_response(status, body)

    def _token(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None

    def authorized(self, request: Request, config: SandboxConfig) -> bool:
        return self._token(request) == config.token

    def presented_credential(self, request: Request) -> str | None:
        return self._token(request)

    def auth_failure(self, request_id: str, message: str | None = None) -> Response:
        text = message or "missing or invalid bearer token"
        response = self.error(401, "unauthorized", text, request_id)
        response.headers.append(("WWW-Authenticate", 'Bearer realm="vendorx"'))
        return response

    def bucket(
        self, request: Request, params: dict[str, str], world: World, config: SandboxConfig
    ) -> str:
        # Per token; all invalid tokens share one bucket so garbage cannot grow memory.
        return "token" if self._token(request) == config.token else "anonymous"

    def rate_headers(self, decision: Decision, config: SandboxConfig) -> list[tuple[str, str]]:
        return [
            ("X-RateLimit-Limit", str(decision.limit)),
            ("X-RateLimit-Remaining", str(decision.remaining)),
            ("X-RateLimit-Reset", str(math.ceil(decision.reset_epoch()))),
        ]

    def too_many(self, decision: Decision, request_id: str) -> Response:
        response = self.error(429, "rate_limited", "rate limit exceeded", request_id)
        retry_after = max(1, math.ceil(decision.seconds_to_reset()))
        response.headers.append(("Retry-After", str(retry_after)))
        return response

    def applicable_faults(self, route: Route, request: Request) -> frozenset[str]:
        return frozenset({"error_5xx", "retry_after_503", "stall"})

    def fault_response(self, ctx: Context) -> Response | None:
        kind = ctx.fault.kind
        if kind == "error_5xx":
            status, code = _5XX[int(ctx.fault.pick * len(_5XX))]
            return self.error(status, code, "transient error, please retry", ctx.request_id)
        if kind == "retry_after_503":
            response = self.error(503, "service_unavailable", "try again later", ctx.request_id)
            response.headers.append(("Retry-After", str(ctx.config.retry_after_s)))
            return response
        return None  # a stall has already been slept: answer normally
