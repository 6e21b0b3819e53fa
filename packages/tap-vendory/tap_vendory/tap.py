"""tap-vendory: the tap class, its settings and its sandbox mode."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator, Mapping

from typing_extensions import override

from singer_fanout import FanOutTap, RateLimitInfo
from singer_fanout.extras import require_extra
from singer_fanout.settings import VendorDefaults, settings_schema
from tap_vendory import client, streams

VENDOR = VendorDefaults(
    credential_setting="api_key",
    credential_help="VendorY API key, sent as the `X-Api-Key` header.",
    production_url="https://api.vendory.io",
    api_path="/api/v2",
    # Days are re-read until no hour is estimated or missing: the lookback is only a margin.
    lookback_days=0,
    revision_days=8,  # a state from before finality tracking: re-read the bookmark and 7 before
    retention_days=395,  # 13 months
    page_size=200,  # a day is 24 hours x 3 metrics = 72 rows: one page
    max_page_size=200,
)

# Requests per minute the sandbox mode allows (the real contract: X 600/token, Y 100/org).
SANDBOX_RATE_LIMIT = 100_000


class TapVendorY(FanOutTap):
    """Singer tap for VendorY usage: orgs, their apps, each app's usage summed per UTC day."""

    name = "tap-vendory"
    package_name = "tap-vendory"  # its distribution: --about and --version read it
    vendor = VENDOR
    error_rules = client.ERROR_RULES
    config_jsonschema = settings_schema(VENDOR).to_dict()
    stream_types = (streams.AccountsStream, streams.ServicesStream, streams.MetricsStream)

    @staticmethod
    @override
    def parse_rate_limit(headers: Mapping[str, str]) -> RateLimitInfo:
        return client.parse_rate_limit(headers)

    @override
    def auth_headers(self, credential: str) -> dict[str, str]:
        return {"X-Api-Key": credential, "Accept": "application/json"}

    @override
    @contextlib.contextmanager
    def open_sandbox(self) -> Iterator[tuple[str, str]]:
        key = secrets.token_urlsafe(16)
        seed = int(self.config.get("sandbox_seed", 0))
        # The sandbox is an optional extra: a production install does not carry it.
        sandbox_package = require_extra(
            "vendor_sandbox", setting="sandbox", requirement="tap-vendory[sandbox]"
        )
        # Generous budgets: the demo should take seconds, not wait out the contract's
        # per-minute limits (the sandbox CLI serves the contract's own limits).
        config = sandbox_package.SandboxConfig(
            vendor="y", seed=seed, rate_limit=SANDBOX_RATE_LIMIT, token=key
        )
        with sandbox_package.run_sandbox(config) as sandbox:
            yield sandbox.url, key


if __name__ == "__main__":
    TapVendorY.cli()
