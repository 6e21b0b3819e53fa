"""VendorZ: OAuth2 client credentials, `Link`-header pages, asynchronous CSV reports.

Unlike X and Y, this vendor keeps state between requests: the access tokens it issued
and the reports it is preparing. Both live on the `VendorZ` instance (one per running
sandbox) and are only touched from the event loop thread, except `revoke_tokens`, which
is one float assignment.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import math
import re
import secrets
import time
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from vendor_sandbox.api import (
    ApiError,
    Context,
    Route,
    VendorApi,
    account_in_path,
    json_response,
    parse_int,
    service_in_path,
)
from vendor_sandbox.config import CONTRACT_PAGE_MAX, DEFAULT_PAGE_SIZE, SandboxConfig
from vendor_sandbox.hashing import unit
from vendor_sandbox.httpserver import Request, Response
from vendor_sandbox.ratelimit import Decision, TokenBucketLimiter
from vendor_sandbox.stats import Stats
from vendor_sandbox.values import rfc3339, z_daily_rows
from vendor_sandbox.world import Account, Service

MAX_REPORT_DAYS = 92
MAX_PAGE_NUMBER = 1_000_000
MAX_TOKENS_KEPT = 10_000  # expired tokens are forgotten past this many
CSV_HEADER = ("date", "requests", "cost_usd", "final")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_5XX = ((500, "internal_error"), (503, "service_unavailable"))


def workspace_json(account: Account) -> dict[str, Any]:
    return {"id": account.id, "name": account.name, "created_at": rfc3339(account.created)}


def project_json(project: Service) -> dict[str, Any]:
    return {
        "id": project.id,
        "workspace_id": project.account_id,
        "name": project.name,
        "created_at": rfc3339(project.created),
        "archived_at": rfc3339(project.deleted) if project.deleted else None,
    }


def report_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow([row["date"], row["requests"], row["cost_usd"],
                         "true" if row["final"] else "false"])
    return out.getvalue().encode()


def http_date(seconds_from_now: float) -> str:
    """An HTTP-date (RFC 9110 IMF-fixdate), rounded up to the next whole second."""
    moment = datetime.datetime.fromtimestamp(
        math.ceil(time.time() + seconds_from_now), datetime.timezone.utc
    )
    return format_datetime(moment, usegmt=True)


@dataclass
class Report:
    id: str
    project: Service
    first: datetime.date
    last: datetime.date
    ready_at: float  # time.monotonic()
    expires_at: float
    failed: bool
    settled: bool = False  # downloaded, seen failed or expired: no longer outstanding


def _page(ctx: Context, items: list[dict[str, Any]]) -> Response:
    """One page of a listing; the next page's absolute URL goes in the `Link` header."""
    query = ctx.request.query
    page = parse_int(query, "page", 1, 1, MAX_PAGE_NUMBER)
    requested = parse_int(query, "per_page", DEFAULT_PAGE_SIZE["z"], 1, CONTRACT_PAGE_MAX["z"])
    per_page = min(requested, ctx.config.page_max)
    headers = []
    if page * per_page < len(items):
        host = ctx.request.headers.get("host", f"{ctx.config.host}:{ctx.config.port}")
        next_query = urlencode({"per_page": requested, "page": page + 1})
        headers.append(("Link", f'<http://{host}{ctx.request.path}?{next_query}>; rel="next"'))
    return json_response(200, {"data": items[(page - 1) * per_page : page * per_page]}, headers)


def list_workspaces(ctx: Context) -> Response:
    return _page(ctx, [workspace_json(account) for account in ctx.world.accounts])


def list_projects(ctx: Context) -> Response:
    workspace = account_in_path(ctx, "workspace_id", "workspace")
    return _page(ctx, [project_json(p) for p in ctx.world.services[workspace.id]])


def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        raise ApiError(400, "invalid_body", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object")
    return body


def _day(body: dict[str, Any], name: str) -> datetime.date:
    text = body.get(name)
    try:
        if isinstance(text, str) and _DATE.match(text):
            return datetime.date.fromisoformat(text)
    except ValueError:
        pass
    raise ApiError(400, "invalid_parameter", f"{name} is required, as YYYY-MM-DD")


class VendorZ(VendorApi):
    name = "z"
    account_param = "workspace_id"
    service_param = "project_id"

    def __init__(self, stats: Stats) -> None:
        self._stats = stats
        self._tokens: dict[str, tuple[float, float]] = {}  # token -> (issued, expires), monotonic
        self._revoked_before = 0.0
        self._reports: dict[str, Report] = {}
        self._by_idempotency_key: dict[str, tuple[str, str]] = {}  # key -> (fingerprint, id)
        self._submissions: dict[str, int] = {}  # fingerprint -> reports created for it
        self._outstanding = 0
        self.routes = (
            Route("/oauth/token", self.issue_token, "auth", method="POST", public=True),
            Route("/v3/workspaces", list_workspaces, "accounts"),
            Route("/v3/workspaces/{workspace_id}/projects", list_projects, "services"),
            Route("/v3/workspaces/{workspace_id}/projects/{project_id}/reports",
                  self.create_report, "metrics", method="POST"),
            Route("/v3/reports/{report_id}", self.report_status, "metrics"),
            Route("/v3/reports/{report_id}/download", self.download, "metrics"),
        )

    # --- OAuth2 ------------------------------------------------------------------------

    def issue_token(self, ctx: Context) -> Response:
        form = dict(parse_qsl(ctx.request.body.decode("latin-1"), keep_blank_values=True))
        if form.get("grant_type") != "client_credentials":
            raise ApiError(400, "unsupported_grant_type", "grant_type must be client_credentials")
        config = ctx.config
        if form.get("client_id") != config.client_id or form.get("client_secret") != config.token:
            raise ApiError(401, "invalid_client", "unknown client or wrong secret")
        now = time.monotonic()
        if len(self._tokens) >= MAX_TOKENS_KEPT:
            self._tokens = {t: life for t, life in self._tokens.items() if life[1] > now}
        token = "zat_" + secrets.token_hex(16)
        self._tokens[token] = (now, now + config.token_ttl_s)
        self._stats.event("tokens_issued")
        body = {"access_token": token, "token_type": "Bearer",
                "expires_in": math.ceil(config.token_ttl_s)}
        return json_response(200, body, [("Cache-Control", "no-store")])

    def revoke_tokens(self) -> None:
        """Every token issued so far answers 401 invalid_token from now on."""
        self._revoked_before = time.monotonic()

    def _token(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None

    def authorized(self, request: Request, config: SandboxConfig) -> bool:
        life = self._tokens.get(self._token(request) or "")
        now = time.monotonic()
        return life is not None and life[0] >= self._revoked_before and now < life[1]

    def presented_credential(self, request: Request) -> str | None:
        """The access token of an API call, or the client secret of a token request."""
        form = dict(parse_qsl(request.body.decode("latin-1"), keep_blank_values=True))
        return self._token(request) or form.get("client_secret")

    def auth_failure(self, request_id: str, message: str | None = None) -> Response:
        if message is not None:  # a valid token without access to this workspace/project
            return self.error(403, "forbidden", message, request_id)
        self._stats.event("invalid_token")
        response = self.error(401, "invalid_token", "the access token is invalid or has expired",
                              request_id)
        response.headers.append(("WWW-Authenticate", 'Bearer error="invalid_token"'))
        return response

    # --- reports -----------------------------------------------------------------------

    def create_report(self, ctx: Context) -> Response:
        project = service_in_path(ctx, "workspace_id", "project_id", ("workspace", "project"))
        body = _json_body(ctx.request)
        first, last = _day(body, "from"), _day(body, "to")
        if first > last:
            raise ApiError(422, "invalid_range", "from must not be after to")
        if last >= ctx.today:
            raise ApiError(422, "invalid_range", f"to must be before today ({ctx.today})")
        if (last - first).days + 1 > MAX_REPORT_DAYS:
            raise ApiError(422, "invalid_range", f"at most {MAX_REPORT_DAYS} days per report")
        fingerprint = f"{ctx.request.path} {first} {last}"
        key = ctx.request.headers.get("idempotency-key")
        if key:
            known = self._by_idempotency_key.get(key)
            if known is not None:
                if known[0] != fingerprint:
                    raise ApiError(422, "idempotency_key_reused",
                                   "this Idempotency-Key was used for another request")
                self._stats.event("idempotent_replays")
                return json_response(202, {"report_id": known[1], "status": "pending"})
        report = self._new_report(ctx, project, (first, last), fingerprint)
        if key:
            self._by_idempotency_key[key] = (fingerprint, report.id)
        return json_response(202, {"report_id": report.id, "status": "pending"})

    def _new_report(
        self, ctx: Context, project: Service, days: tuple[datetime.date, datetime.date],
        fingerprint: str,
    ) -> Report:
        config = ctx.config
        occurrence = self._submissions.get(fingerprint, 0)
        self._submissions[fingerprint] = occurrence + 1
        if occurrence:
            self._stats.event("duplicate_reports")  # the same window asked for again
        failed = unit(config.seed, "report-fails", fingerprint, occurrence) < (
            config.failed_report_rate
        )
        ready_at = time.monotonic() + config.report_delay_s
        report = Report(f"rpt_{len(self._reports) + 1:07d}", project, *days, ready_at,
                        ready_at + config.report_ttl_s, failed)
        self._reports[report.id] = report
        self._stats.event("reports_created")
        self._outstanding += 1
        self._stats.gauge("reports_outstanding", self._outstanding)
        return report

    def _settle(self, report: Report) -> None:
        if not report.settled:
            report.settled = True
            self._outstanding -= 1
            self._stats.gauge("reports_outstanding", self._outstanding)

    def _report(self, ctx: Context) -> Report:
        report = self._reports.get(ctx.params["report_id"])
        if report is None:
            raise ApiError(404, "not_found", "report not found")
        if time.monotonic() >= report.expires_at:
            self._settle(report)
            raise ApiError(410, "report_expired", "the report has expired; create a new one")
        return report

    def report_status(self, ctx: Context) -> Response:
        report = self._report(ctx)
        body: dict[str, Any] = {"report_id": report.id}
        if time.monotonic() < report.ready_at:
            body["status"] = "pending"
        elif report.failed:
            self._settle(report)
            body.update(status="failed", error="report_generation_failed")
        else:
            body.update(status="ready", download_url=f"/v3/reports/{report.id}/download")
        return json_response(200, body)

    def download(self, ctx: Context) -> Response:
        report = self._report(ctx)
        if time.monotonic() < report.ready_at or report.failed:
            raise ApiError(409, "report_not_ready", "the report is not ready for download")
        self._settle(report)
        ctx.metric_days = (report.project.id, (report.last - report.first).days + 1)
        rows = z_daily_rows(ctx.world, report.project, report.first, report.last, ctx.today)
        return Response(200, report_csv(rows), "text/csv; charset=utf-8")

    # --- the pipeline's questions --------------------------------------------------------

    def error(self, status: int, code: str, message: str, request_id: str) -> Response:
        return json_response(status, {"error": code, "message": message})

    def bucket(self, request: Request, params: dict[str, str], world: Any,
               config: SandboxConfig) -> str:
        return "client"  # one token bucket per client: the sandbox serves one client

    def make_limiter(self) -> TokenBucketLimiter:
        return TokenBucketLimiter()

    def rate_headers(self, decision: Decision, config: SandboxConfig) -> list[tuple[str, str]]:
        return []  # VendorZ publishes its rate in the docs only: no budget headers

    def too_many(self, decision: Decision, request_id: str) -> Response:
        response = self.error(429, "rate_limited", "too many requests", request_id)
        response.headers.append(("Retry-After", http_date(decision.seconds_to_reset())))
        return response

    def applicable_faults(self, route: Route, request: Request) -> frozenset[str]:
        return frozenset({"error_5xx", "retry_after_503", "stall"})

    def fault_key(self, request: Request, config: SandboxConfig) -> str:
        # A POST is "the same request" when its body is: retries of one report creation.
        body = request.body.decode("latin-1") if request.path.endswith("/reports") else ""
        return super().fault_key(request, config) + body

    def fault_response(self, ctx: Context) -> Response | None:
        kind = ctx.fault.kind
        if kind == "error_5xx":
            status, code = _5XX[int(ctx.fault.pick * len(_5XX))]
            return self.error(status, code, "transient error, please retry", ctx.request_id)
        if kind == "retry_after_503":
            response = self.error(503, "service_unavailable", "try again later", ctx.request_id)
            response.headers.append(("Retry-After", http_date(ctx.config.retry_after_s)))
            return response
        return None  # a stall is slept by the pipeline (after the handler for a POST)
