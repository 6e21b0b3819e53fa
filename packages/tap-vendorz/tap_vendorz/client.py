"""VendorZ's HTTP rules in one place: OAuth2, Link pages, errors, its published rate."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from singer_sdk.schema.source import SchemaDirectory, StreamSchema

from singer_fanout import Action, ErrorRules, PartitionedStream
from singer_fanout.answer import Answer
from singer_fanout.links import link_pages, retry_after_s
from singer_fanout.payload import require_fields, require_list

# Each stream reads schemas/<stream name>.json.
SCHEMAS = SchemaDirectory(Path(__file__).parent / "schemas")
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a password


def _error_body(response: Answer) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _describe(response: Answer) -> str:
    body = _error_body(response)
    return f"HTTP {response.status_code} {body.get('error', '')}: {body.get('message', '')}"


# 401 invalid_token: the access token expired or was revoked, get another one; 401
# invalid_client: the client id or secret is wrong. 409 is a report downloaded before it
# was ready; 410 a report past its 10 minutes: both fail the partition, like 400/404/422.
ERROR_RULES = ErrorRules(
    status_actions={400: Action.FAIL, 404: Action.FAIL, 409: Action.FAIL, 410: Action.FAIL,
                    422: Action.FAIL},
    code_actions={"invalid_token": Action.RENEW_CREDENTIAL, "invalid_client": Action.AUTH_FAILED},
    wait_hint=lambda response: retry_after_s(response.headers.get("Retry-After")),
    describe=_describe,
    error_code=lambda response: _error_body(response).get("error"),
)


class VendorZStream(PartitionedStream):
    """Base of every VendorZ stream: one rate-limit bucket per client, `Link` pages."""

    path: str
    schema = StreamSchema(SCHEMAS)

    def items(self, path: str, *, what: str) -> Iterator[dict[str, Any]]:
        """Every item of a listing, following `Link: rel="next"` from page to page."""
        params = {"per_page": self.fanout_tap.run_settings.page_size}
        for page in link_pages(self.client, path, params, scope="client", what=what):
            for item in require_list(page.payload, "data", what):
                require_fields(item, ("id",), what)
                yield item

    def rate_limit_scope(self, context: Mapping[str, Any] | None) -> str:
        return "client"
