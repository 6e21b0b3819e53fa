"""VendorY's HTTP rules in one place: API-key auth, cursor pagination, errors, rate limits."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from singer_sdk.schema.source import SchemaDirectory, StreamSchema

from singer_fanout import (
    Action,
    CursorExpired,
    ErrorRules,
    PartitionedStream,
    PartitionError,
    RateLimitInfo,
)
from singer_fanout.answer import Answer
from singer_fanout.links import retry_after_s
from singer_fanout.payload import require_list
from singer_fanout.ratelimit import read_reset, reset_info

# Each stream reads schemas/<stream name>.json.
SCHEMAS = SchemaDirectory(Path(__file__).parent / "schemas")
# A listing whose cursor keeps expiring is given up after this many fresh starts.
MAX_LISTING_RESTARTS = 5
# No real listing (orgs, one org's apps, one app's day) comes near this many pages.
MAX_PAGES_PER_LISTING = 10_000


def _first_error(body: Any) -> dict[str, Any]:
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return errors[0]
    return {}


def _error_body(response: Answer) -> dict[str, Any]:
    if "json" not in response.headers.get("Content-Type", ""):
        return {}  # VendorY's gateway answers 502/503 with an HTML page
    try:
        return _first_error(response.json())
    except ValueError:
        return {}


def _describe(response: Answer) -> str:
    error = _error_body(response)
    if not error:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        return f"HTTP {response.status_code} ({kind} body from the gateway)"
    return f"HTTP {response.status_code} {error.get('code', '')}: {error.get('detail', '')}".strip()


def _wait_hint(response: Answer) -> float | None:
    """429 carries no Retry-After: VendorY says to wait for X-RateLimit-Reset (seconds).
    A reset that cannot be believed (an epoch, say) falls back to the window's length,
    X-RateLimit-Period."""
    if response.status_code != 429:
        return retry_after_s(response.headers.get("Retry-After"))
    reset, problem = read_reset(response.headers, "X-RateLimit-Reset", epoch=False)
    if problem is None:
        return reset
    return retry_after_s(response.headers.get("X-RateLimit-Period"))


def _partial_answer(_response: Answer, body: Any) -> tuple[Action, str] | None:
    """A 200 that carries `errors` is partial data: never take it as the whole answer."""
    error = _first_error(body)
    if error:
        return Action.RETRY, f"partial answer ({error.get('code', 'unknown error')})"
    return None


ERROR_RULES = ErrorRules(
    # 403 is VendorY's "bad key" (it never sends 401); 410 data_expired and the other 4xx
    # fail the partition; HTML 502/503 and 504 are the gateway: retry.
    status_actions={400: Action.FAIL, 403: Action.AUTH_FAILED, 404: Action.FAIL,
                    410: Action.FAIL, 422: Action.FAIL},
    code_actions={"invalid_cursor": Action.RESTART_LISTING},
    wait_hint=_wait_hint,
    describe=_describe,
    error_code=lambda response: _error_body(response).get("code"),
    body_rule=_partial_answer,
)


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimitInfo:
    """VendorY: X-RateLimit-Reset is the number of seconds until the window resets, rounded
    up (the kit doubts an epoch there, and learns the window's true end from the rounding)."""
    return reset_info(headers, limit="X-RateLimit-Limit", remaining="X-RateLimit-Remaining",
                      reset="X-RateLimit-Reset", epoch=False, rounded_up_to_s=1.0)


class VendorYStream(PartitionedStream):
    """Base of every VendorY stream: per-org rate-limit buckets, cursor pagination."""

    path: str
    schema = StreamSchema(SCHEMAS)

    def rate_limit_scope(self, context: Mapping[str, Any] | None) -> str:
        # VendorY budgets per org; the org listing itself counts against no org.
        return f"org:{context['account_id']}" if context else "orgs"

    def paginate(
        self,
        path: str,
        params: Mapping[str, Any],
        *,
        context: Mapping[str, Any] | None,
        what: str,
    ) -> Iterator[dict[str, Any]]:
        """Yield each page (the whole body) of a cursor listing, after all pages arrived.

        Pages are collected before anything is yielded, because an expired cursor restarts
        the listing from the first page and the earlier pages must not be counted twice.
        """
        for _attempt in range(MAX_LISTING_RESTARTS + 1):
            try:
                yield from self._collect(path, params, context=context, what=what)
            except CursorExpired as expired:
                self.logger.info("%s: cursor expired (%s); restarting the listing", what, expired)
                continue
            return
        raise PartitionError(what, f"the cursor expired {MAX_LISTING_RESTARTS + 1} times in a row")

    def _collect(
        self, path: str, params: Mapping[str, Any], *, context: Mapping[str, Any] | None, what: str
    ) -> list[dict[str, Any]]:
        pages: list[dict[str, Any]] = []
        seen_cursors: set[str] = set()
        cursor: str | None = None
        while True:
            query = {**params, "limit": self.fanout_tap.run_settings.page_size}
            if cursor:
                query["cursor"] = cursor
            payload = self.client.get_json(
                path, query, scope=self.rate_limit_scope(context), what=what
            )
            require_list(payload, "items", what)
            pages.append(payload)
            cursor = payload.get("next_cursor")
            if not cursor:
                return pages
            if cursor in seen_cursors:
                raise PartitionError(what, "the API repeated a cursor; the listing would never end")
            if len(pages) >= MAX_PAGES_PER_LISTING:
                # Cursors that keep changing but never end are as endless as a repeated one.
                raise PartitionError(what, f"more than {MAX_PAGES_PER_LISTING} pages; giving up")
            seen_cursors.add(cursor)
