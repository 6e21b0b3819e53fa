"""Every sandbox knob in one frozen dataclass, validated on construction.

The same field list drives the CLI: each field declares its flag parser and help in
its metadata, so a knob added here is a `--kebab-case` flag without more code.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import ipaddress
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

VENDORS = ("x", "y", "z")
CONTRACT_PAGE_MAX = {"x": 100, "y": 200, "z": 100}
DEFAULT_PAGE_SIZE = {"x": 25, "y": 100, "z": 50}
CONTRACT_RATE_LIMIT = {"x": 600, "y": 100, "z": 20}
# X and Y count requests per fixed 60 s window; VendorZ's token bucket refills per second.
CONTRACT_RATE_WINDOW_S = {"x": 60.0, "y": 60.0, "z": 1.0}
# Fault kinds share one draw per request (see faults.py), so their rates must fit in [0, 1].
FAULT_RATE_FIELDS = (
    "error_5xx_rate",
    "retry_after_503_rate",
    "html_502_rate",
    "stall_rate",
    "partial_200_rate",
    "expired_cursor_rate",
)
# Knobs that shape the ground truth; the rest only shape how it is served.
DATA_FIELDS = (
    "vendor",
    "seed",
    "today",
    "world_date",
    "accounts",
    "services_per_account",
    "history_days",
    "deleted_service_rate",
    "full_history_rate",
    "late_final_rate",
    "late_final_days",
    "revision_rate",
)
# A running server cannot move to another vendor or socket.
FIXED_FIELDS = ("vendor", "host", "port")
MAX_ACCOUNTS = 4096  # ids are 4 hex digits; stay far below 65,536 so id collisions stay rare
# How `reset_header` may write X-RateLimit-Reset (see careless.py).
RESET_STYLES = ("contract", "epoch", "epoch_ms", "seconds")
# What `hostile_services` can make of a 200 answer (see hostile.py).
HOSTILE_MODES = (
    "malformed_json",
    "wrong_shape",
    "wrong_types",
    "missing_fields",
    "unknown_fields",
    "repeat_cursor",
    "huge_page",
    "trickle_body",
    "endless_body",
    "deep_nesting",
    "foreign_link",
)


def parse_date(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def parse_range(text: str) -> tuple[int, int]:
    """'2-4' -> (2, 4); '3' -> (3, 3)."""
    low, sep, high = text.partition("-")
    return (int(low), int(high)) if sep else (int(low), int(low))


def parse_ids(text: str) -> frozenset[str]:
    return frozenset(part.strip() for part in text.split(",") if part.strip())


def parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def parse_hostile(text: str) -> tuple[tuple[str, str], ...]:
    """'svc_1=malformed_json,acc_2=wrong_types' -> sorted ((id, mode), ...)."""
    pairs = (part.partition("=") for part in text.split(",") if part.strip())
    return tuple(sorted((key.strip(), mode.strip()) for key, _, mode in pairs))


def _flag(help_text: str, parse: Callable[[str], Any]) -> dict[str, Any]:
    """Field metadata from which the CLI flag is built."""
    return {"help": help_text, "parse": parse}


def _rate(help_text: str) -> dict[str, Any]:
    return _flag(f"{help_text} (probability per request, 0..1)", float)


@dataclass(frozen=True)
class SandboxConfig:
    vendor: Literal["x", "y", "z"]
    seed: int = field(default=0, metadata=_flag("seed of all generated data and faults", int))
    today: datetime.date | None = field(
        default=None,
        metadata=_flag("frozen 'today' YYYY-MM-DD (default: the real UTC date)", parse_date),
    )
    world_date: datetime.date | None = field(
        default=None,
        metadata=_flag(
            "date the accounts/services/history are laid out from (default: today); pin it so "
            "that moving 'today' only ages the data instead of shifting the world",
            parse_date,
        ),
    )
    host: str = field(default="127.0.0.1", metadata=_flag("loopback address to bind", str))
    port: int = field(default=0, metadata=_flag("port to bind (0 = a free port)", int))
    accounts: int = field(default=3, metadata=_flag("number of accounts (orgs)", int))
    services_per_account: tuple[int, int] = field(
        default=(2, 4),
        metadata=_flag("inclusive range of services (apps) per account, e.g. 2-4", parse_range),
    )
    history_days: int = field(
        default=60,
        metadata=_flag("days before today that data exists for", int),
    )
    deleted_service_rate: float = field(
        default=0.15,
        metadata=_flag("fraction of services deleted/archived", float),
    )
    full_history_rate: float = field(
        default=1 / 3,
        metadata=_flag(
            "fraction of services created before the history starts (the others are created "
            "inside it)", float
        ),
    )
    late_final_rate: float = field(
        default=0.0,
        metadata=_flag(
            "fraction of (service, day) pairs the vendor finalises late_final_days later than "
            "usual (X, Y, Z); their values still change when they finally turn final", float
        ),
    )
    late_final_days: int = field(
        default=10,
        metadata=_flag("extra days a late-finalised day stays not final", int),
    )
    revision_rate: float = field(
        default=0.5,
        metadata=_flag(
            "fraction of (service, day) pairs whose values change while not final", float
        ),
    )
    max_page_size: int | None = field(
        default=None,
        metadata=_flag(
            "largest page the server returns (default: the contract max, X 100 / Y 200)", int
        ),
    )
    latency_ms: float = field(
        default=0.0,
        metadata=_flag("time to every vendor answer, the sandbox's own work on it included",
                      float),
    )
    jitter_ms: float = field(
        default=0.0,
        metadata=_flag("extra latency, uniform in [0, jitter]", float),
    )
    rate_limit: int | None = field(
        default=None,
        metadata=_flag(
            "requests per window per bucket (default: X 600 per token, Y 100 per org)", int
        ),
    )
    rate_limit_window_s: float | None = field(
        default=None,
        metadata=_flag(
            "fixed rate-limit window length (X, Y; default 60 s), or the time VendorZ's token "
            "bucket takes to refill rate_limit tokens (default 1 s)",
            float,
        ),
    )
    error_5xx_rate: float = field(default=0.0, metadata=_rate("transient 5xx with a JSON body"))
    retry_after_503_rate: float = field(
        default=0.0, metadata=_rate("503 with a Retry-After header")
    )
    retry_after_s: int = field(
        default=1,
        metadata=_flag("seconds sent in Retry-After by retry_after_503 faults", int),
    )
    html_502_rate: float = field(
        default=0.0, metadata=_rate("VendorY gateway 502/503 with an HTML body")
    )
    stall_rate: float = field(
        default=0.0, metadata=_rate("response delayed by stall_s (VendorY then answers 504)")
    )
    stall_s: float = field(default=30.0, metadata=_flag("length of a stall", float))
    partial_200_rate: float = field(
        default=0.0, metadata=_rate("VendorY usage 200 with shard_unavailable and partial rows")
    )
    expired_cursor_rate: float = field(
        default=0.0, metadata=_rate("VendorY request with a cursor answered invalid_cursor")
    )
    cursor_ttl_s: float = field(default=600.0, metadata=_flag("VendorY cursor lifetime", float))
    failed_report_rate: float = field(
        default=0.0, metadata=_rate("VendorZ report that ends `failed` instead of `ready`")
    )
    report_delay_s: float = field(
        default=3.0, metadata=_flag("VendorZ: seconds from a report's creation to `ready`", float)
    )
    report_ttl_s: float = field(
        default=600.0,
        metadata=_flag("VendorZ: seconds a ready report stays downloadable (then 410)", float),
    )
    token_ttl_s: float = field(
        default=3600.0, metadata=_flag("VendorZ: lifetime of an OAuth access token", float)
    )
    client_id: str = field(
        default="sandbox-client",
        metadata=_flag("VendorZ: accepted OAuth client id (the secret is `token`)", str),
    )
    fail_services: frozenset[str] = field(
        default=frozenset(),
        metadata=_flag("service ids whose metrics always answer 500 (comma separated)", parse_ids),
    )
    fail_accounts: frozenset[str] = field(
        default=frozenset(),
        metadata=_flag("account ids whose services and metrics always answer 500", parse_ids),
    )
    fail_days: frozenset[datetime.date] = field(
        default=frozenset(),
        metadata=_flag(
            "UTC days (YYYY-MM-DD, comma separated): a metrics request whose window touches one "
            "answers 500",
            lambda text: frozenset(parse_date(part) for part in parse_ids(text)),
        ),
    )
    forbidden_accounts: frozenset[str] = field(
        default=frozenset(),
        metadata=_flag(
            "account ids the token/key may not read: their services and metrics answer the "
            "auth failure (X 401, Y 403) although the credential works elsewhere", parse_ids),
    )
    forbidden_services: frozenset[str] = field(
        default=frozenset(),
        metadata=_flag("service ids whose metrics answer the auth failure (X 401, Y 403)",
                       parse_ids),
    )
    echo_credential: bool = field(
        default=False,
        metadata=_flag(
            "every error answer echoes the credential it received, as a careless vendor or "
            "proxy does: in the error message, in a URL in the body and in a header",
            parse_bool),
    )
    reset_header: str = field(
        default="contract",
        metadata=_flag(
            "how X-RateLimit-Reset is written: contract (X epoch seconds, Y seconds until), "
            f"or one of {', '.join(RESET_STYLES[1:])} whatever the contract says", str),
    )
    reset_skew_s: float = field(
        default=0.0,
        metadata=_flag("seconds added to the X-RateLimit-Reset moment (a clock off by that)",
                       float),
    )
    late_account_after: int | None = field(
        default=None,
        metadata=_flag(
            "after this many vendor requests, a new account (with no services) appears first "
            "in the account listing, shifting every later page by one", int),
    )
    hostile_services: tuple[tuple[str, str], ...] = field(
        default=(),
        metadata=_flag(
            "id=mode pairs (comma separated): a service id's metrics, or an account id's "
            f"service list, answer 200s made hostile by mode, one of {', '.join(HOSTILE_MODES)}",
            parse_hostile,
        ),
    )
    token: str = field(
        default="sandbox-token",
        metadata=_flag(
            "accepted bearer token (X) / API key (Y) / client secret (Z); changing it on a "
            "running sandbox (`Sandbox.update(token=...)`) revokes the old one", str),
    )

    def __post_init__(self) -> None:
        # Accept any iterable of ids and datetimes for convenience, store canonical types.
        for name in ("fail_services", "fail_accounts", "forbidden_accounts", "forbidden_services"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = parse_ids(value)
            object.__setattr__(self, name, frozenset(value))
        object.__setattr__(self, "fail_days", frozenset(self.fail_days))
        for name in ("today", "world_date"):
            value = getattr(self, name)
            if isinstance(value, datetime.datetime):
                object.__setattr__(self, name, value.date())
        object.__setattr__(self, "services_per_account", tuple(self.services_per_account))
        hostile: Any = self.hostile_services  # a mapping or "id=mode,..." is accepted too
        if isinstance(hostile, str):
            hostile = parse_hostile(hostile)
        elif isinstance(hostile, Mapping):
            hostile = hostile.items()
        object.__setattr__(self, "hostile_services", tuple(sorted(map(tuple, hostile))))
        self._validate()

    def _validate(self) -> None:
        if self.vendor not in VENDORS:
            raise ValueError(f"vendor must be one of {', '.join(VENDORS)}, not {self.vendor!r}")
        bind_address(self.host)
        low, high = self.services_per_account
        checks = {
            "accounts must be in 0..4096": 0 <= self.accounts <= MAX_ACCOUNTS,
            "services_per_account must be (low, high) with 0 <= low <= high": 0 <= low <= high,
            "history_days must be >= 0": self.history_days >= 0,
            "port must be in 0..65535": 0 <= self.port <= 65535,
            "max_page_size must be >= 1": self.max_page_size is None or self.max_page_size >= 1,
            "rate_limit must be >= 1": self.rate_limit is None or self.rate_limit >= 1,
            "rate_limit_window_s must be > 0": (
                self.rate_limit_window_s is None or self.rate_limit_window_s > 0
            ),
            "report_delay_s must be >= 0": self.report_delay_s >= 0,
            "report_ttl_s, token_ttl_s must be > 0": min(self.report_ttl_s, self.token_ttl_s) > 0,
            "latency_ms, jitter_ms, stall_s must be >= 0": min(
                self.latency_ms, self.jitter_ms, self.stall_s
            )
            >= 0,
            "retry_after_s must be >= 0": self.retry_after_s >= 0,
            "late_account_after must be >= 0": (self.late_account_after or 0) >= 0,
            f"reset_header must be one of {', '.join(RESET_STYLES)}":
                self.reset_header in RESET_STYLES,
            "cursor_ttl_s must be > 0": self.cursor_ttl_s > 0,
        }
        checks["late_final_days must be >= 0"] = self.late_final_days >= 0
        for name in (*FAULT_RATE_FIELDS, "deleted_service_rate", "full_history_rate",
                     "late_final_rate", "revision_rate", "failed_report_rate"):
            checks[f"{name} must be in 0..1"] = 0.0 <= getattr(self, name) <= 1.0
        total = sum(getattr(self, name) for name in FAULT_RATE_FIELDS)
        checks["the fault rates must add up to at most 1"] = total <= 1.0 + 1e-9
        unknown = sorted({mode for _, mode in self.hostile_services} - set(HOSTILE_MODES))
        checks[f"hostile_services modes must be among {', '.join(HOSTILE_MODES)}, not "
               f"{', '.join(unknown)}"] = not unknown
        modes = set(dict(self.hostile_services).values())
        checks["hostile_services mode repeat_cursor must only be used with vendor y"] = (
            self.vendor == "y" or "repeat_cursor" not in modes
        )
        checks["hostile_services mode foreign_link must only be used with vendor z"] = (
            self.vendor == "z" or "foreign_link" not in modes
        )
        for message, ok in checks.items():
            if not ok:
                raise ValueError(message)
        if self.today and self.world_date and self.world_date > self.today:
            raise ValueError("world_date must not be after today")

    # Effective values of the knobs whose default depends on the vendor.
    @property
    def page_max(self) -> int:
        contract = CONTRACT_PAGE_MAX[self.vendor]
        return contract if self.max_page_size is None else min(self.max_page_size, contract)

    @property
    def limit_per_window(self) -> int:
        return CONTRACT_RATE_LIMIT[self.vendor] if self.rate_limit is None else self.rate_limit

    @property
    def window_s(self) -> float:
        """The rate-limit window (X, Y) or the bucket's refill time (Z) in effect."""
        if self.rate_limit_window_s is None:
            return CONTRACT_RATE_WINDOW_S[self.vendor]
        return self.rate_limit_window_s

    def hostile_mode(self, target_id: str) -> str | None:
        """The hostile mode configured for an account or service id, if any."""
        return dict(self.hostile_services).get(target_id) if self.hostile_services else None

    def resolved_today(self) -> datetime.date:
        return self.today or datetime.datetime.now(datetime.timezone.utc).date()

    def changed(self, **changes: Any) -> SandboxConfig:
        """A copy with `changes` applied; refuses the fields a running server cannot change."""
        fixed = sorted(set(changes) & set(FIXED_FIELDS))
        if fixed:
            raise ValueError(f"cannot change {', '.join(fixed)} on a running sandbox")
        return dataclasses.replace(self, **changes)


def bind_address(host: str) -> str:
    """The single loopback address to bind for `host`; ValueError for anything else.

    The sandbox serves fake credentials and fault injection: it must never be reachable
    from another machine, so only 127.0.0.0/8, ::1 and names resolving only to them pass.
    """
    refusal = (
        f"refusing to bind host {host!r}: the sandbox only binds loopback "
        "(127.0.0.0/8, ::1 or localhost)"
    )
    if host == "localhost":
        return "127.0.0.1"  # one address, so that port 0 yields one port
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            raise ValueError(refusal) from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not addresses or not all(a.is_loopback for a in addresses):
            raise ValueError(refusal) from None
        address = addresses[0]
    if not address.is_loopback:
        raise ValueError(refusal)
    return str(address)


def add_config_arguments(parser: argparse.ArgumentParser, names: Iterable[str]) -> None:
    """Add `--kebab-case` flags for the given SandboxConfig fields."""
    by_name = {f.name: f for f in dataclasses.fields(SandboxConfig)}
    for name in names:
        flag = "--" + name.replace("_", "-")
        if name == "vendor":
            parser.add_argument(flag, choices=VENDORS, required=True, help="which vendor API")
            continue
        meta = by_name[name].metadata
        parser.add_argument(
            flag, type=meta["parse"], default=argparse.SUPPRESS, help=meta["help"], dest=name
        )


def config_from_arguments(namespace: argparse.Namespace) -> SandboxConfig:
    names = {f.name for f in dataclasses.fields(SandboxConfig)}
    return SandboxConfig(**{k: v for k, v in vars(namespace).items() if k in names})


def serving_fields() -> list[str]:
    return [f.name for f in dataclasses.fields(SandboxConfig)]
