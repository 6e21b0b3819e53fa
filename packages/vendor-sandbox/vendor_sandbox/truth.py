"""Ground truth: everything the API would serve as of `today`, without faults, as records.

Built from the same functions as the handlers, so a tap's output can be compared with
it exactly. VendorY's hourly rows are summed per UTC day the way a tap should: exact
decimal sums of exactly the rows the API returns for that day.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from vendor_sandbox.config import SandboxConfig
from vendor_sandbox.values import Y_METRICS, x_daily_rows, y_usage, z_daily_rows
from vendor_sandbox.vendor_x import RETENTION_DAYS as X_RETENTION_DAYS
from vendor_sandbox.vendor_x import account_json, service_json
from vendor_sandbox.vendor_y import RETENTION_S as Y_RETENTION_S
from vendor_sandbox.vendor_y import app_json, org_json
from vendor_sandbox.vendor_z import project_json, workspace_json
from vendor_sandbox.world import DAY, Account, Service, World, build_world, epoch

Record = dict[str, Any]
JSON_OF: dict[str, tuple[Callable[[Account], Record], Callable[[Service], Record]]] = {
    "x": (account_json, service_json),
    "y": (org_json, app_json),
    "z": (workspace_json, project_json),
}
# Days past the vendor's retention cannot be fetched, so they are not truth either.
RETENTION_DAYS = {"x": X_RETENTION_DAYS, "y": Y_RETENTION_S // 86_400, "z": None}


def truth_records(config: SandboxConfig) -> Iterator[Record]:
    """Accounts, each followed by its services, each followed by its metric days."""
    today = config.resolved_today()
    world = build_world(config, today)
    account_of, service_of = JSON_OF[config.vendor]
    for account in world.accounts:
        yield {"type": "account", "account_id": account.id, "data": account_of(account)}
        for service in world.services[account.id]:
            yield {
                "type": "service",
                "account_id": account.id,
                "service_id": service.id,
                "data": service_of(service),
            }
            for day, data in _metric_days(world, service, today):
                yield {
                    "type": "metric",
                    "account_id": account.id,
                    "service_id": service.id,
                    "date": day.isoformat(),
                    "data": data,
                }


def day_finality(config: SandboxConfig) -> dict[str, dict[datetime.date, bool]]:
    """Per service id, every day with data served or still to come as of `today`, and
    whether the vendor marks it final (X `is_final`; Y no hour estimated or missing; Z
    `final`)."""
    today = config.resolved_today()
    world = build_world(config, today)
    out: dict[str, dict[datetime.date, bool]] = {}
    for services in world.services.values():
        for service in services:
            days = out[service.id] = {}
            day = max(service.created_day, world.history_start)
            while day < today:
                if world.vendor == "x":
                    rows = x_daily_rows(world, service, day, day, today)
                    if rows:
                        days[day] = rows[0]["is_final"]
                elif world.vendor == "z":
                    rows = z_daily_rows(world, service, day, day, today)
                    if rows:
                        days[day] = rows[0]["final"]
                elif world.vendor == "y":
                    window = y_usage(world, service, epoch(day), epoch(day + DAY), today)
                    if window.rows or window.missing_hours:
                        days[day] = not window.missing_hours and not any(
                            row["estimated"] for row in window.rows)
                day += DAY
    return out


def _metric_days(
    world: World, service: Service, today: datetime.date
) -> Iterator[tuple[datetime.date, Record]]:
    retention_days = RETENTION_DAYS[world.vendor]
    first = max(service.created_day, world.history_start)
    if retention_days is not None:
        first = max(first, today - retention_days * DAY)
    last = today - DAY
    if service.deleted_day is not None:
        last = min(last, service.deleted_day)
    day = first
    while day <= last:
        data = DAY_OF[world.vendor](world, service, day, today)
        if data is not None:
            yield day, data
        day += DAY


def _x_day(
    world: World, service: Service, day: datetime.date, today: datetime.date
) -> Record | None:
    rows = x_daily_rows(world, service, day, day, today)
    return rows[0] if rows else None


def _z_day(
    world: World, project: Service, day: datetime.date, today: datetime.date
) -> Record | None:
    rows = z_daily_rows(world, project, day, day, today)
    return rows[0] if rows else None


def _y_day(world: World, app: Service, day: datetime.date, today: datetime.date) -> Record | None:
    window = y_usage(world, app, epoch(day), epoch(day + DAY), today)
    if not window.rows:
        return None
    sums = {metric: Decimal("0.00") for metric, _ in Y_METRICS}
    for row in window.rows:
        sums[row["metric"]] += Decimal(row["value"])
    return {
        "requests": str(sums["requests"]),
        "egress": str(sums["egress"]),
        "compute_seconds": str(sums["compute_seconds"]),
        "hours_reported": len({row["ts"] for row in window.rows}),
        "missing_hours": window.missing_hours,
        "estimated": any(row["estimated"] for row in window.rows),
        "revision": max(row["revision"] for row in window.rows),
    }


DAY_OF: dict[str, Callable[[World, Service, datetime.date, datetime.date], Record | None]] = {
    "x": _x_day, "y": _y_day, "z": _z_day,
}
