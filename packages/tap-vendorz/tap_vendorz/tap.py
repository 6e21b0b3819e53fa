"""tap-vendorz: the tap class, its settings and its sandbox mode."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from typing import ClassVar

from typing_extensions import override

from singer_fanout import FanOutTap
from singer_fanout.auth import Auth, OAuth2ClientCredentials
from singer_fanout.extras import require_extra
from singer_fanout.jobs import REPORT_SETTINGS
from singer_fanout.pacing import PublishedRate
from singer_fanout.settings import VendorDefaults, settings_schema
from singer_fanout.vendor_settings import VendorSetting
from tap_vendorz import client, streams

SANDBOX_CLIENT_ID = "tap-vendorz-sandbox"
VENDOR = VendorDefaults(
    credential_setting="client_secret",
    credential_help="VendorZ OAuth2 client secret (with `client_id`), exchanged for "
    "short-lived access tokens.",
    production_url="https://api.vendorz.com",
    api_path="/v3",
    # Days are re-read until `final` (VendorZ may change a day until D+2, later for a few):
    # the lookback is only an extra margin.
    lookback_days=0,
    revision_days=3,  # a state from before finality tracking: re-read the bookmark and 2 before
    retention_days=3650,  # VendorZ documents no retention limit
    page_size=100,
    max_page_size=100,
    settings=(
        VendorSetting("client_id", "string", required=True,
                      description="VendorZ OAuth2 client id. Not needed when `sandbox` is true."),
        VendorSetting("requests_per_second", "number", default=20, minimum=0.1,
                      description="The request rate VendorZ allows this client (published: "
                      "20 per second; it sends no budget headers). The tap stays under it."),
        *REPORT_SETTINGS,
    ),
)
# Requests per second the sandbox mode allows (the real contract: 20 per second).
SANDBOX_RATE_LIMIT = 100_000


class TapVendorZ(FanOutTap):
    """Singer tap for VendorZ usage: workspaces, their projects, each project's daily usage."""

    name = "tap-vendorz"
    package_name = "tap-vendorz"  # its distribution: --about and --version read it
    vendor = VENDOR
    error_rules = client.ERROR_RULES
    config_jsonschema = settings_schema(VENDOR).to_dict()
    stream_types = (streams.AccountsStream, streams.ServicesStream, streams.MetricsStream)
    idempotency_key_header: ClassVar[str | None] = "Idempotency-Key"

    @override
    def published_rate(self) -> PublishedRate:
        per_second = self.run_settings.vendor_values["requests_per_second"]
        return PublishedRate(max(1, round(per_second)), max(1, round(per_second)) / per_second)

    @override
    def make_auth(self, credential: str, on_secret: Callable[[str], None]) -> Auth:
        client_id = self.run_settings.vendor_values["client_id"] or SANDBOX_CLIENT_ID
        return OAuth2ClientCredentials(token_path=client.TOKEN_PATH, client_id=client_id,
                                       client_secret=credential, on_secret=on_secret)

    @override
    @contextlib.contextmanager
    def open_sandbox(self) -> Iterator[tuple[str, str]]:
        secret = secrets.token_urlsafe(16)
        seed = int(self.config.get("sandbox_seed", 0))
        sandbox_package = require_extra(
            "vendor_sandbox", setting="sandbox", requirement="tap-vendorz[sandbox]"
        )
        # Generous budgets and quick reports: the demo should take seconds.
        config = sandbox_package.SandboxConfig(
            vendor="z", seed=seed, rate_limit=SANDBOX_RATE_LIMIT, token=secret,
            client_id=SANDBOX_CLIENT_ID, report_delay_s=1.0,
        )
        with sandbox_package.run_sandbox(config) as sandbox:
            yield sandbox.url, secret


if __name__ == "__main__":
    TapVendorZ.cli()
