"""Settings every fan-out tap shares, and their validation before any request is made.

The JSON schema (for `--about`, Meltano and singer-sdk's type checks) and the semantic
checks (dates that parse and are in order, a credential unless in sandbox mode) live
together here so a new tap cannot forget one of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from singer_sdk import typing as th

from singer_fanout.dates import parse_day, utc_today
from singer_fanout.errors import ConfigurationProblem
from singer_fanout.http_client import DEFAULT_MAX_RESPONSE_BYTES, RetrySettings
from singer_fanout.transport import INSECURE_OPT_IN, check_api_url
from singer_fanout.vendor_settings import VendorSetting

DEFAULT_START_DAYS_AGO = 30
# A STATE waits for this share of the partitions to move: STATE bytes <= ~8x the final state.
DEFAULT_STATE_REDO_PERCENT = 12.5


@dataclass(frozen=True)
class VendorDefaults:
    """What differs between vendors in the shared settings."""

    credential_setting: str
    credential_help: str
    production_url: str
    lookback_days: int
    retention_days: int
    page_size: int
    max_page_size: int
    # The vendor's own settings (declared, validated, in --about and the settings table).
    settings: tuple[VendorSetting, ...] = ()
    # For a vendor whose days the kit tracks to finality (`lookback_days` is then only an
    # extra margin): days before a bookmark written before that tracking to read once.
    revision_days: int = 0
    # The path every API call starts with ("/v1"): a typo'd api_url that ends with it is
    # named even when the first request (a token endpoint) lies outside it.
    api_path: str = ""


LOOKBACK_WINDOW = ("Days before each service's bookmark to read again, so the vendor's late "
                   "revisions are emitted again. Default: the vendor's revision window.")
LOOKBACK_MARGIN = ("Extra days before each service's bookmark to read again even when the "
                   "vendor marked them final. Days it has not marked final yet are read again "
                   "on every run until they are, whatever this says.")


def settings_schema(vendor: VendorDefaults) -> th.PropertiesList:
    return th.PropertiesList(
        th.Property("api_url", th.StringType, default=vendor.production_url,
                    description="Base URL of the vendor API (scheme and host, without the "
                    "API's own path such as `/v1`). Point it at the sandbox or a proxy for "
                    "tests. Must be `https://` unless the host is loopback or "
                    "`allow_insecure_http` is set."),
        th.Property(INSECURE_OPT_IN, th.BooleanType, default=False,
                    description="Allow a plain `http://` `api_url` on a host other than "
                    "loopback (the credential then crosses the network unencrypted). Only for "
                    "a private path such as a sidecar proxy."),
        th.Property(vendor.credential_setting, th.StringType, secret=True,
                    description=vendor.credential_help + " Not needed when `sandbox` is true."),
        th.Property("sandbox", th.BooleanType, default=False,
                    description="Start the bundled vendor sandbox in-process on loopback and sync "
                    "from it; no credential needed. The zero-setup way to try the tap."),
        th.Property("sandbox_seed", th.IntegerType, default=0,
                    description="Seed of the sandbox's generated data (sandbox mode only)."),
        th.Property("start_date", th.StringType,
                    description="First UTC day (YYYY-MM-DD) to sync for a service without a "
                    f"bookmark. Default: {DEFAULT_START_DAYS_AGO} days before today."),
        th.Property("end_date", th.StringType,
                    description="Last UTC day to sync (inclusive). Default: yesterday; the "
                    "current UTC day is never requested."),
        th.Property("lookback_days", th.IntegerType, default=vendor.lookback_days,
                    description=LOOKBACK_MARGIN if vendor.revision_days else LOOKBACK_WINDOW),
        th.Property("account_ids", th.ArrayType(th.StringType),
                    description="Only sync these accounts. Default: every account the "
                    "credential can see."),
        th.Property("page_size", th.IntegerType, default=vendor.page_size,
                    description=f"Items per list page (at most {vendor.max_page_size})."),
        th.Property("max_concurrency", th.IntegerType, default=16,
                    description="Partitions (an account's services, a service's metrics) "
                    "fetched at once."),
        th.Property("partition_concurrency", th.IntegerType,
                    description="Request windows of one partition (a service's metrics days) "
                    "fetched at once, out of `max_concurrency`, so a backfill of a few services "
                    "still uses every worker. 1 fetches them one after another. Default: "
                    "`max_concurrency`."),
        th.Property("connect_timeout", th.NumberType, default=10,
                    description="Seconds to wait for a connection."),
        th.Property("request_timeout", th.NumberType, default=60,
                    description="Seconds to wait for a response once connected."),
        th.Property("response_deadline", th.NumberType,
                    description="Seconds a whole response may take, from sending the request to "
                    "the last byte of its body (`request_timeout` only bounds each wait for the "
                    "socket, which a trickling body never trips). Past it the attempt fails and "
                    "is retried. Default: twice `request_timeout`."),
        th.Property("max_response_bytes", th.IntegerType, default=DEFAULT_MAX_RESPONSE_BYTES,
                    description="Largest response body accepted, in bytes (default 16 MiB, far "
                    "above the largest page the vendor's contract allows). Enforced while the "
                    "body streams in: a bigger one fails the attempt and is retried, so memory "
                    "stays bounded by this times `max_concurrency`."),
        th.Property("max_retries", th.IntegerType, default=5,
                    description="Retries of a failed request (5xx, timeout, connection error) "
                    "before its partition is given up for this run."),
        th.Property("backoff_max_seconds", th.NumberType, default=30,
                    description="Longest wait between two retries (exponential backoff with "
                    "jitter)."),
        th.Property("max_rate_limit_wait", th.NumberType, default=300,
                    description="Longest wait the tap accepts when the vendor says to slow "
                    "down; longer fails the request."),
        th.Property("ca_bundle", th.StringType,
                    description="Path to a CA bundle for TLS verification (verification is "
                    "always on)."),
        th.Property("state_interval_seconds", th.NumberType, default=10,
                    description="Write STATE at most this often (and always at the end, and "
                    "when stopped by SIGTERM / SIGINT)."),
        th.Property("state_redo_percent", th.NumberType, default=DEFAULT_STATE_REDO_PERCENT,
                    description="A STATE also waits until this percentage of the partitions "
                    "in the state moved since the previous one. A run killed without warning "
                    "(SIGKILL, out of memory, lost machine) re-does at most this share of the "
                    "partitions, or the last `state_interval_seconds` of work, whichever is "
                    "more; in exchange a run writes at most about 100 / this times its final "
                    "state in STATE bytes, however long it runs (8x at the default 12.5). 0: "
                    "write every `state_interval_seconds`, whatever the state's size."),
        th.Property("progress_interval_seconds", th.NumberType, default=30,
                    description="Seconds between progress log lines."),
        th.Property("shard", th.StringType,
                    description="`k/N`: sync only the accounts of shard k of N (1 <= k <= N), "
                    "assigned by a stable hash of the account id, so N runs with 1/N..N/N "
                    "cover every account exactly once. Give each shard its own state."),
        th.Property("summary_path", th.StringType,
                    description="Also write the end-of-run summary as JSON to this file "
                    "(checked before any request: a path that cannot be written is a "
                    "configuration error)."),
        th.Property("prune_unlisted_state", th.BooleanType, default=False,
                    description="Drop from the state the bookmarks of accounts and services "
                    "the vendor no longer lists (they are counted in the run summary either "
                    "way). Off by default: a listing that hides an account for a day would "
                    "otherwise cost its whole history on the next run."),
        *(setting.schema_property() for setting in vendor.settings),
    )


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (1-based); an account belongs to exactly one shard."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            index_text, count_text = str(text).split("/")
            index, count = int(index_text), int(count_text)
        except ValueError:
            problem = f"{text!r} is not of the form k/N, e.g. 2/4"
            raise ConfigurationProblem("shard", problem) from None
        if not 1 <= index <= count:
            raise ConfigurationProblem("shard", f"{text!r}: k must be between 1 and N")
        return cls(index, count)

    def owns(self, account_id: str) -> bool:
        # A stable hash (not Python's salted hash()): the same shard on every run and machine.
        digest = hashlib.blake2b(account_id.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class RunSettings:
    """Validated settings for one sync run."""

    today: dt.date
    start_date: dt.date
    end_date: dt.date | None
    lookback_days: int
    retention_days: int
    page_size: int
    max_concurrency: int
    partition_concurrency: int
    account_ids: frozenset[str] | None
    retry: RetrySettings
    state_interval_s: float
    progress_interval_s: float
    summary_path: str | None
    shard: Shard | None = None
    # Share (0..1) of the state's partitions that must move before another STATE.
    state_redo_share: float = DEFAULT_STATE_REDO_PERCENT / 100
    api_url: str = ""  # validated; unused in sandbox mode
    # The vendor's declared settings, validated (numbers as int/float, defaults filled in).
    vendor_values: Mapping[str, Any] = field(default_factory=dict)
    prune_unlisted_state: bool = False

    def wants_account(self, account_id: str) -> bool:
        """Whether this run syncs the account: the allow-list and the shard both agree."""
        if self.account_ids is not None and account_id not in self.account_ids:
            return False
        return self.shard is None or self.shard.owns(account_id)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], vendor: VendorDefaults) -> RunSettings:
        today = utc_today()
        start = _day(config, "start_date") or today - dt.timedelta(days=DEFAULT_START_DAYS_AGO)
        end = _day(config, "end_date")
        if end is not None and end < start:
            raise ConfigurationProblem(
                "end_date", f"{end} is before start_date {start}; nothing would be synced"
            )
        if start >= today:
            raise ConfigurationProblem(
                "start_date", f"{start} is not in the past; the vendor only reports finished "
                f"UTC days (yesterday is {today - dt.timedelta(days=1)})"
            )
        if not config.get("sandbox") and not config.get(vendor.credential_setting):
            raise ConfigurationProblem(
                vendor.credential_setting,
                "is required (or set sandbox: true to sync from the bundled sandbox)",
            )
        page_size = _positive_int(config, "page_size", vendor.page_size)
        if page_size > vendor.max_page_size:
            raise ConfigurationProblem(
                "page_size", f"{page_size} is more than the vendor allows ({vendor.max_page_size})"
            )
        accounts = config.get("account_ids")
        max_concurrency = _positive_int(config, "max_concurrency", 16)
        api_url = config.get("api_url") or vendor.production_url
        if not config.get("sandbox"):
            api_url = check_api_url(
                api_url, allow_insecure_http=config.get(INSECURE_OPT_IN) is True
            )
        ca_bundle = config.get("ca_bundle") or None
        if ca_bundle is not None and not Path(ca_bundle).is_file():
            raise ConfigurationProblem(
                "ca_bundle", f"{ca_bundle!r} is not a file (a PEM bundle of trusted CAs)"
            )
        return cls(
            today=today,
            start_date=start,
            end_date=end,
            lookback_days=_positive_int(config, "lookback_days", vendor.lookback_days, zero=True),
            retention_days=vendor.retention_days,
            page_size=page_size,
            max_concurrency=max_concurrency,
            partition_concurrency=_positive_int(config, "partition_concurrency", max_concurrency),
            account_ids=frozenset(accounts) if accounts else None,
            retry=RetrySettings(
                max_attempts=_positive_int(config, "max_retries", 5, zero=True) + 1,
                backoff_max_s=_positive_number(config, "backoff_max_seconds", 30),
                connect_timeout_s=_positive_number(config, "connect_timeout", 10),
                read_timeout_s=_positive_number(config, "request_timeout", 60),
                max_rate_limit_wait_s=_positive_number(config, "max_rate_limit_wait", 300),
                ca_bundle=ca_bundle,
                response_deadline_s=_optional_positive_number(config, "response_deadline"),
                max_response_bytes=_positive_int(config, "max_response_bytes",
                                                 DEFAULT_MAX_RESPONSE_BYTES),
            ),
            state_interval_s=_positive_number(config, "state_interval_seconds", 10),
            state_redo_share=_percent(config, "state_redo_percent",
                                      DEFAULT_STATE_REDO_PERCENT) / 100,
            progress_interval_s=_positive_number(config, "progress_interval_seconds", 30),
            summary_path=config.get("summary_path"),
            shard=Shard.parse(config["shard"]) if config.get("shard") else None,
            api_url=api_url,
            vendor_values={setting.name: setting.read(config) for setting in vendor.settings},
            prune_unlisted_state=config.get("prune_unlisted_state") is True,
        )


def _day(config: Mapping[str, Any], setting: str) -> dt.date | None:
    value = config.get(setting)
    if value in (None, ""):
        return None
    try:
        return parse_day(str(value))
    except ValueError:
        raise ConfigurationProblem(
            setting, f"{value!r} is not a date; use YYYY-MM-DD (a UTC day)"
        ) from None


def _positive_int(
    config: Mapping[str, Any], setting: str, default: int, *, zero: bool = False
) -> int:
    value = config.get(setting, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero else 1):
        floor = "0 or more" if zero else "1 or more"
        raise ConfigurationProblem(setting, f"{value!r} is not a whole number {floor}")
    return value


def _percent(config: Mapping[str, Any], setting: str, default: float) -> float:
    value = config.get(setting, default)
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)) or not (
        0 <= value <= 100
    ):
        raise ConfigurationProblem(setting, f"{value!r} is not a percentage from 0 to 100")
    return float(value)


def _optional_positive_number(config: Mapping[str, Any], setting: str) -> float | None:
    if config.get(setting) is None:
        return None
    return _positive_number(config, setting, 0)


def _positive_number(config: Mapping[str, Any], setting: str, default: float) -> float:
    value = config.get(setting, default)
    # singer-sdk hands JSON numbers over as Decimal.
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)) or value <= 0:
        raise ConfigurationProblem(setting, f"{value!r} is not a positive number of seconds")
    return float(value)
