"""What a vendor module provides to the request pipeline, and the pieces handlers share.

The pipeline (`app.py`) is vendor-neutral: rate limiting, latency, auth and faults run
the same way for both vendors, and ask the vendor only how to *say* things (headers,
error bodies, which bucket, which faults apply).
"""

from __future__ import annotations

import abc
import datetime
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from vendor_sandbox.config import SandboxConfig
from vendor_sandbox.faults import Fault
from vendor_sandbox.httpserver import Request, Response
from vendor_sandbox.ratelimit import Decision, Limiter, RateLimiter
from vendor_sandbox.world import Account, Service, World

NO_FAULT = Fault(None, 0.0, 0)
Scope = Literal["auth", "accounts", "services", "metrics"]
_PARAM = re.compile(r"\{(\w+)\}")


class ApiError(Exception):
    """A contract error answer (4xx) raised from a handler."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Context:
    """Everything a handler may look at for one request."""

    config: SandboxConfig
    today: datetime.date
    world: World
    request: Request
    params: dict[str, str]
    request_id: str
    now: float  # time.time() at arrival, for cursors
    fault: Fault = NO_FAULT  # decided after auth, see app.py
    # Set by metric handlers: (service id, UTC days the window covers) for the stats.
    metric_days: tuple[str, int] | None = None


Handler = Callable[[Context], Response]


def refuse_failing_days(ctx: Context, first: datetime.date, last: datetime.date) -> None:
    """A 500 for a metrics window touching one of the `fail_days` (checked after parsing)."""
    failing = ctx.config.fail_days
    if failing and any(first <= day <= last for day in failing):
        raise ApiError(500, "internal_error", "internal error, retry later")


@dataclass(frozen=True)
class Route:
    template: str  # "/v1/accounts/{account_id}/services"
    handler: Handler
    scope: Scope
    method: str = "GET"
    public: bool = False  # answered without credentials (an OAuth token endpoint)
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = "^" + _PARAM.sub(r"(?P<\1>[^/]+)", self.template) + "$"
        object.__setattr__(self, "pattern", re.compile(regex))


def json_response(
    status: int, payload: Any, headers: list[tuple[str, str]] | None = None
) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, "application/json", headers or [])


def parse_int(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter in [low, high], else 400 invalid_parameter."""
    text = query.get(name)
    if text is None:
        return default
    if not text.isdigit() or len(text) > 9 or not low <= int(text) <= high:
        raise ApiError(400, "invalid_parameter", f"{name} must be an integer in {low}..{high}")
    return int(text)


def account_in_path(ctx: Context, param: str, noun: str) -> Account:
    """The account the path names, else 404 '<noun> not found'."""
    account = ctx.world.account_by_id.get(ctx.params[param])
    if account is None:
        raise ApiError(404, "not_found", f"{noun} not found")
    return account


def service_in_path(
    ctx: Context, account_param: str, param: str, nouns: tuple[str, str]
) -> Service:
    """The service the path names, which must belong to the path's account, else 404."""
    account = account_in_path(ctx, account_param, nouns[0])
    service = ctx.world.service_by_id.get(ctx.params[param])
    if service is None or service.account_id != account.id:
        raise ApiError(404, "not_found", f"{nouns[1]} not found")
    return service


class VendorApi(abc.ABC):
    """One vendor's wire dialect."""

    name: str  # "x" / "y" / "z"
    routes: tuple[Route, ...]
    account_param: str  # path parameter naming the account ("account_id" / "org_id")
    service_param: str

    @abc.abstractmethod
    def error(self, status: int, code: str, message: str, request_id: str) -> Response:
        """The vendor's error body."""

    @abc.abstractmethod
    def authorized(self, request: Request, config: SandboxConfig) -> bool: ...

    @abc.abstractmethod
    def auth_failure(self, request_id: str, message: str | None = None) -> Response:
        """The contract's answer to a credential that may not make this request."""

    @abc.abstractmethod
    def presented_credential(self, request: Request) -> str | None:
        """The credential the request carried, if any."""

    @abc.abstractmethod
    def bucket(
        self, request: Request, params: dict[str, str], world: World, config: SandboxConfig
    ) -> str:
        """Rate-limit bucket of the request."""

    def make_limiter(self) -> Limiter:
        """How this vendor counts requests against budgets (fixed windows by default)."""
        return RateLimiter()

    @abc.abstractmethod
    def rate_headers(self, decision: Decision, config: SandboxConfig) -> list[tuple[str, str]]:
        """Rate-limit headers sent on every response."""

    @abc.abstractmethod
    def too_many(self, decision: Decision, request_id: str) -> Response: ...

    @abc.abstractmethod
    def applicable_faults(self, route: Route, request: Request) -> frozenset[str]: ...

    @abc.abstractmethod
    def fault_response(self, ctx: Context) -> Response | None:
        """The injected answer for ctx.fault, or None to serve normally."""

    def fault_key(self, request: Request, config: SandboxConfig) -> str:
        """Identity of 'the same request' for fault decisions."""
        query = "&".join(f"{k}={v}" for k, v in sorted(request.query.items()))
        return f"{request.path}?{query}"
