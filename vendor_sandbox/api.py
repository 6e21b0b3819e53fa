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
from vendor_sandbox.ratelimit import Decision
from vendor_sandbox.world import World

NO_FAULT = Fault(None, 0.0, 0)
Scope = Literal["accounts", "services", "metrics"]
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


@dataclass(frozen=True)
class Route:
    template: str  # "/v1/accounts/{account_id}/services"
    handler: Handler
    scope: Scope
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


class VendorApi(abc.ABC):
    """One vendor's wire dialect."""

    name: str  # "x" / "y"
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
