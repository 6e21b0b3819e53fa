"""The simulated world: accounts and their services, laid out deterministically from a seed.

Only identities and lifetimes live here; metric values are computed on demand in
`values.py`. Both vendors share this layout and differ only in vocabulary and id style.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass

from vendor_sandbox.config import SandboxConfig
from vendor_sandbox.hashing import digest, units

UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)

ACCOUNT_NAMES = (
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell",
    "Soylent", "Cyberdyne", "Aperture", "Wonka", "Gringotts", "Vandelay", "Pied Piper",
)  # fmt: skip
ACCOUNT_SUFFIXES = ("", " EU", " US", " Labs", " Retail", " Media")
PLANS = {
    "x": ("starter", "business", "enterprise"),
    "y": ("free", "pro", "enterprise"),
    "z": ("team", "business", "enterprise"),  # not served by VendorZ; drawn for uniformity
}
ACCOUNT_PREFIX = {"x": "acc_", "y": "o-", "z": "ws_"}
SERVICE_PREFIX = {"x": "svc_", "y": "a-", "z": "prj_"}
X_SERVICE_TYPES = ("cdn", "compute", "storage", "waf")
X_REGIONS = ("eu-west", "eu-central", "us-east", "us-west", "ap-south")
Y_RUNTIMES = ("python", "node", "go", "java", "ruby")
SERVICE_NAMES = (
    "checkout", "search", "images", "api", "auth", "billing", "media", "static",
    "reports", "ingest", "mobile", "catalog", "edge", "assets", "events",
)  # fmt: skip


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    plan: str
    created: datetime.datetime


@dataclass(frozen=True)
class Service:
    id: str
    account_id: str
    name: str
    kind: str  # X: service type; Y: runtime; Z: unused
    region: str  # X only
    created: datetime.datetime
    deleted: datetime.datetime | None

    @property
    def created_day(self) -> datetime.date:
        return self.created.date()

    @property
    def deleted_day(self) -> datetime.date | None:
        return self.deleted.date() if self.deleted else None


@dataclass(frozen=True)
class World:
    vendor: str
    seed: int
    revision_rate: float
    history_start: datetime.date  # first UTC day any data exists for
    accounts: tuple[Account, ...]
    services: dict[str, tuple[Service, ...]]  # by account id, in id order
    account_by_id: dict[str, Account]
    service_by_id: dict[str, Service]
    late_final_rate: float = 0.0  # see SandboxConfig
    late_final_days: int = 0

    @functools.cached_property
    def history_start_ts(self) -> int:
        return epoch(self.history_start)


def epoch(day: datetime.date) -> int:
    """Epoch seconds of `day` 00:00 UTC."""
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, tzinfo=UTC)


def world_key(config: SandboxConfig, today: datetime.date) -> tuple[object, ...]:
    """Everything the layout depends on: equal keys give identical worlds."""
    return (
        config.vendor,
        config.seed,
        config.world_date or today,
        config.accounts,
        config.services_per_account,
        config.history_days,
        config.deleted_service_rate,
        config.full_history_rate,
        config.late_final_rate,
        config.late_final_days,
        config.revision_rate,
    )


def build_world(config: SandboxConfig, today: datetime.date) -> World:
    vendor, seed = config.vendor, config.seed
    anchor = config.world_date or today
    history_start = anchor - datetime.timedelta(days=config.history_days)
    accounts = _accounts(config, history_start)
    drafts: list[tuple[datetime.datetime, int, int, Service]] = []
    low, high = config.services_per_account
    for a_index, account in enumerate(accounts):
        count = low + digest(seed, vendor, "service-count", a_index) % (high - low + 1)
        for s_index in range(count):
            draft = _service(config, account, (a_index, s_index), history_start, anchor)
            drafts.append((draft.created, a_index, s_index, draft))
    # Ids are handed out in creation order, like a real sequence would.
    drafts.sort(key=lambda item: item[:3])
    prefix = SERVICE_PREFIX[vendor]
    services = [
        Service(f"{prefix}{n}", d.account_id, d.name, d.kind, d.region, d.created, d.deleted)
        for n, (_, _, _, d) in enumerate(drafts, start=1)
    ]
    by_account: dict[str, list[Service]] = {account.id: [] for account in accounts}
    for service in services:
        by_account[service.account_id].append(service)
    return World(
        vendor=vendor,
        seed=seed,
        revision_rate=config.revision_rate,
        late_final_rate=config.late_final_rate,
        late_final_days=config.late_final_days,
        history_start=history_start,
        accounts=tuple(accounts),
        services={key: tuple(value) for key, value in by_account.items()},
        account_by_id={account.id: account for account in accounts},
        service_by_id={service.id: service for service in services},
    )


def _accounts(config: SandboxConfig, history_start: datetime.date) -> list[Account]:
    vendor, seed = config.vendor, config.seed
    prefix = ACCOUNT_PREFIX[vendor]
    seen: set[str] = set()
    drafts: list[Account] = []
    for index in range(config.accounts):
        salt = 0
        while True:  # re-draw on the rare collision of 4 hex digits
            account_id = f"{prefix}{digest(seed, vendor, 'account-id', index, salt) % 65536:04x}"
            if account_id not in seen:
                break
            salt += 1
        seen.add(account_id)
        u = units(4, seed, vendor, "account", index)
        name = ACCOUNT_NAMES[int(u[0] * len(ACCOUNT_NAMES))]
        name += ACCOUNT_SUFFIXES[int(u[1] * len(ACCOUNT_SUFFIXES))]
        plan = PLANS[vendor][int(u[2] * len(PLANS[vendor]))]
        days_before = 30 + int(u[3] * 900)
        created = midnight(history_start) - datetime.timedelta(days=days_before)
        created += datetime.timedelta(seconds=digest(seed, vendor, "account-time", index) % 86400)
        drafts.append(Account(account_id, name, plan, created))
    # Listing order is creation order; the index breaks ties.
    order = sorted(range(len(drafts)), key=lambda i: (drafts[i].created, i))
    return [drafts[i] for i in order]


def _service(
    config: SandboxConfig,
    account: Account,
    index: tuple[int, int],
    history_start: datetime.date,
    anchor: datetime.date,
) -> Service:
    """The service number index[1] of account number index[0] (its id is given later)."""
    a_index, s_index = index
    vendor, seed = config.vendor, config.seed
    u = units(8, seed, vendor, "service", a_index, s_index)
    seconds = datetime.timedelta(seconds=int(u[0] * 86400))
    if u[1] < config.full_history_rate or config.history_days == 0:
        created = midnight(history_start) - datetime.timedelta(days=1 + int(u[2] * 365))
        created = max(created, account.created + DAY)
    else:
        created = midnight(history_start) + datetime.timedelta(days=int(u[2] * config.history_days))
    created += seconds
    deleted = None
    if u[3] < config.deleted_service_rate:
        # Deleted some time after creation and inside the history, before `anchor`.
        start = max(created, midnight(history_start))
        end = midnight(anchor)
        span = max((end - start).total_seconds(), 3600.0)
        deleted = start + datetime.timedelta(seconds=int(1 + u[4] * (span - 1)))
    name = SERVICE_NAMES[int(u[5] * len(SERVICE_NAMES))]
    if vendor == "x":
        name = f"{name}-{X_REGIONS[int(u[6] * len(X_REGIONS))].split('-')[0]}"
        kind = X_SERVICE_TYPES[int(u[7] * len(X_SERVICE_TYPES))]
        region = X_REGIONS[int(u[6] * len(X_REGIONS))]
    else:
        kind, region = Y_RUNTIMES[int(u[7] * len(Y_RUNTIMES))], ""
    return Service("", account.id, name, kind, region, created, deleted)
