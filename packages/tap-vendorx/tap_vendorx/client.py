"""VendorX's HTTP rules in one place: auth, page-number pagination, errors, rate limits."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from singer_sdk.schema.source import SchemaDirectory, StreamSchema

from singer_fanout import Action, ErrorRules, PartitionedStream, PartitionError, RateLimitInfo
from singer_fanout.answer import Answer
from singer_fanout.payload import require_list
from singer_fanout.ratelimit import reset_info

# Each stream reads schemas/<stream name>.json.
SCHEMAS = SchemaDirectory(Path(__file__).parent / "schemas")


def _error_body(response: Answer) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _describe(response: Answer) -> str:
    error = _error_body(response)
    text = f"HTTP {response.status_code}"
    if error.get("code"):
        text += f" {error['code']}"
    if error.get("message"):
        text += f": {error['message']}"
    if error.get("request_id"):
        text += f" (request_id {error['request_id']})"
    return text


def _retry_after(response: Answer) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


# Every status VendorX documents, mapped once: 429 waits Retry-After; 5xx retry (503 may
# carry Retry-After); 401 is the token; 400/404/422 fail the partition.
ERROR_RULES = ErrorRules(
    status_actions={400: Action.FAIL, 404: Action.FAIL, 422: Action.FAIL},
    wait_hint=_retry_after,
    describe=_describe,
    error_code=lambda response: _error_body(response).get("code"),
)


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimitInfo:
    """VendorX: X-RateLimit-Reset is an epoch second, rounded up (the kit doubts other
    units, and learns the window's true end from the rounding)."""
    return reset_info(headers, limit="X-RateLimit-Limit", remaining="X-RateLimit-Remaining",
                      reset="X-RateLimit-Reset", epoch=True, rounded_up_to_s=1.0)


class VendorXStream(PartitionedStream):
    """Base of every VendorX stream: the token's single rate-limit bucket, page pagination."""

    path: str
    schema = StreamSchema(SCHEMAS)

    def paginate(self, path: str, *, what: str) -> Iterator[dict[str, Any]]:
        """Every item of a page-numbered listing, page after page until `total_pages`."""
        page = 1
        while True:
            payload = self.client.get_json(
                path,
                {"page": page, "per_page": self.fanout_tap.run_settings.page_size},
                scope=self.rate_limit_scope(None),
                what=f"{what} page {page}",
            )
            yield from require_list(payload, "data", f"{what} page {page}")
            meta = payload.get("meta")
            total_pages = meta.get("total_pages") if isinstance(meta, dict) else None
            if not isinstance(total_pages, int) or isinstance(total_pages, bool):
                # Without it the listing's end is unknown: stopping here could drop pages.
                raise PartitionError(f"{what} page {page}",
                                     f"meta.total_pages is missing or not an integer: {meta!r}")
            if page >= total_pages:
                return
            page += 1

    def rate_limit_scope(self, context: Mapping[str, Any] | None) -> str:
        return "token"  # VendorX budgets per token: one bucket for the whole run
