"""tap-vendorx: the tap class, its settings and its sandbox mode."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator, Mapping

from typing_extensions import override

from singer_fanout import FanOutTap, RateLimitInfo
from singer_fanout.extras import require_extra
from singer_fanout.settings import VendorDefaults, settings_schema
from tap_vendorx import client, streams

VENDOR = VendorDefaults(
    credential_setting="api_token",
    credential_help="VendorX API token, sent as `Authorization: Bearer <token>`.",
    production_url="https://api.vendorx.com",
    api_path="/v1",
    # Days are re-read until `is_final`: the lookback is only an extra margin.
    lookback_days=0,
    revision_days=4,  # a state from before finality tracking: re-read the bookmark and 3 before
    retention_days=400,
    page_size=100,
    max_page_size=100,
)

# Requests per minute the sandbox mode allows (the real contract: X 600/token, Y 100/org).
SANDBOX_RATE_LIMIT = 100_000


class TapVendorX(FanOutTap):
    """Singer tap for VendorX usage: accounts, their services, each service's daily metrics."""

    name = "tap-vendorx"
    package_name = "tap-vendorx"  # its distribution: --about and --version read it
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
        return {"Authorization": f"Bearer {credential}", "Accept": "application/json"}

    @override
    @contextlib.contextmanager
    def open_sandbox(self) -> Iterator[tuple[str, str]]:
        token = secrets.token_urlsafe(16)
        seed = int(self.config.get("sandbox_seed", 0))
        # The sandbox is an optional extra: a production install does not carry it.
        sandbox_package = require_extra(
            "vendor_sandbox", setting="sandbox", requirement="tap-vendorx[sandbox]"
        )
        # Generous budgets: the demo should take seconds, not wait out the contract's
        # per-minute limits (the sandbox CLI serves the contract's own limits).
        config = sandbox_package.SandboxConfig(
            vendor="x", seed=seed, rate_limit=SANDBOX_RATE_LIMIT, token=token
        )
        with sandbox_package.run_sandbox(config) as sandbox:
            yield sandbox.url, token


if __name__ == "__main__":
    TapVendorX.cli()
