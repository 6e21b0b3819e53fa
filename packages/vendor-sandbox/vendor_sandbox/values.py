"""Metric values: pure functions of (vendor, seed, service, day[, hour], revision).

Nothing is stored: the API handlers and the ground truth call the same functions, so
what the server answers and what `truth` prints cannot drift apart.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from typing import Any

from vendor_sandbox.hashing import unit, units
from vendor_sandbox.world import DAY, Service, World, epoch, midnight

X_FINAL_AGE = 4  # revised until D+3, final from D+4
Z_FINAL_AGE = 2  # revised on D+1, final from D+2
Z_REVISION_PCT = 96  # share of the final value a revised day shows on D+1
X_REVISION_PCT = (94, 97, 99, 100)  # share of the final value known at revision 0..3
Y_FINAL_AGE = 7  # restated for 7 days
Y_LATE_SHARE = 0.10  # hours that arrive late
Y_MAX_LATENESS_S = 48 * 3600
HOUR = 3600
# Rows are sorted by (ts, metric), so this tuple is in metric-name order.
Y_METRICS = (("compute_seconds", "s"), ("egress", "MiB"), ("requests", "count"))
# Traffic follows the day: a fixed curve keeps values reproducible across platforms.
DIURNAL = (
    0.35, 0.3, 0.28, 0.27, 0.3, 0.4, 0.55, 0.75, 0.9, 1.0, 1.05, 1.1,
    1.1, 1.08, 1.05, 1.0, 0.98, 1.0, 1.05, 1.0, 0.9, 0.75, 0.6, 0.45,
)  # fmt: skip


# Values drawn once per service, or per service and day, are asked for again and again
# (every row of a service; VendorY's 24 hours of a day): they are kept, not hashed anew. The
# caches are bounded and hold only floats: the answers are the same, at a fraction of the CPU.
CACHED_DRAWS = 1 << 15


@functools.lru_cache(maxsize=CACHED_DRAWS)
def drawn_once(count: int, *parts: object) -> tuple[float, ...]:
    """`units(count, *parts)`, computed once for each key."""
    return tuple(units(count, *parts))


@functools.lru_cache(maxsize=CACHED_DRAWS)
def _unit_once(*parts: object) -> float:
    return unit(*parts)


@functools.lru_cache(maxsize=CACHED_DRAWS)
def _first_hour(created: datetime.datetime) -> int:
    return int(created.timestamp()) // HOUR * HOUR


def rfc3339(moment: datetime.datetime) -> str:
    if moment.year < 1000:  # strftime does not pad such a year; isoformat does
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The same text as strftime("%Y-%m-%dT%H:%M:%SZ"), in a quarter of the time.
    return moment.isoformat(timespec="seconds")[:19] + "Z"


def revises(world: World, service: Service, day: datetime.date) -> bool:
    """Whether this (service, day) pair changes value across revisions."""
    return _unit_once(world.seed, world.vendor, "revises", service.id, day) < world.revision_rate


def late_days(world: World, service: Service, day: datetime.date) -> int:
    """Extra days before the vendor finalises this (service, day) pair (late_final_rate)."""
    if world.late_final_rate and _unit_once(
            world.seed, world.vendor, "late-final", service.id, day) < world.late_final_rate:
        return world.late_final_days
    return 0


# --- VendorX: one row per service per day -------------------------------------------------


def x_day_exists(world: World, service: Service, day: datetime.date, today: datetime.date) -> bool:
    if day >= today or day < world.history_start or day < service.created_day:
        return False
    deleted = service.deleted_day
    return deleted is None or day <= deleted


def x_daily_row(
    world: World, service: Service, day: datetime.date, today: datetime.date
) -> dict[str, Any]:
    age = (today - day).days
    final = age >= X_FINAL_AGE + late_days(world, service, day)
    pending_late = not final and age >= X_FINAL_AGE  # past D+3 but finalised late
    revision = min(age, X_FINAL_AGE) - 1
    if pending_late:
        revision = 2  # shows 99 % until it is final
    scale, bytes_per_request, error_share, hit_base = drawn_once(4, world.seed, "x.svc",
                                                                 service.id)
    noise = units(5, world.seed, "x.day", service.id, day)
    weekday = 0.75 if day.weekday() >= 5 else 1.0
    requests = int(10 ** (3 + 4 * scale) * weekday * (0.85 + 0.3 * noise[0]))
    bandwidth = int(requests * (2_000 + 200_000 * bytes_per_request) * (0.9 + 0.2 * noise[1]))
    errors = int(requests * 0.005 * error_share * noise[2])
    hit_ratio = 0.5 + 0.45 * hit_base + 0.04 * noise[3]
    p95 = 20 + 300 * noise[4]
    if revises(world, service, day) or pending_late:
        # Late logs keep arriving: counts grow to their final value, ratios settle.
        pct, missing = X_REVISION_PCT[revision], 3 - revision
        requests, bandwidth = requests * pct // 100, bandwidth * pct // 100
        errors = errors * pct // 100
        hit_ratio -= 0.003 * missing
        p95 += 1.5 * missing
    offset = datetime.timedelta(seconds=int(unit(world.seed, "x.updated", service.id, day) * 21600))
    updated = midnight(day) + DAY * (1 + revision) + offset
    return {
        "date": day.isoformat(),
        "requests": requests,
        "bandwidth_bytes": bandwidth,
        "errors_5xx": errors,
        "cache_hit_ratio": round(min(max(hit_ratio, 0.0), 1.0), 4),
        "p95_latency_ms": round(p95, 1),
        "is_final": final,
        "updated_at": rfc3339(updated),
    }


def x_daily_rows(
    world: World, service: Service, start: datetime.date, end: datetime.date, today: datetime.date
) -> list[dict[str, Any]]:
    """The rows for the inclusive window [start, end] as of `today`."""
    rows = []
    day = start
    while day <= end:
        if x_day_exists(world, service, day, today):
            rows.append(x_daily_row(world, service, day, today))
        day += DAY
    return rows


# --- VendorZ: one CSV row per project per day ----------------------------------------------


def z_daily_row(
    world: World, project: Service, day: datetime.date, today: datetime.date
) -> dict[str, Any]:
    """One report row as typed values: date, requests, cost_usd (decimal text), final."""
    age = (today - day).days
    final = age >= Z_FINAL_AGE + late_days(world, project, day)
    scale, price = drawn_once(2, world.seed, "z.prj", project.id)
    noise = unit(world.seed, "z.day", project.id, day)
    requests = int(10 ** (2 + 4 * scale) * (0.8 + 0.4 * noise))
    pending_late = not final and age >= Z_FINAL_AGE  # past D+2 but finalised late
    if not final and (revises(world, project, day) or pending_late):
        requests = requests * Z_REVISION_PCT // 100
    cost = requests * (5 + int(price * 95))  # in 1/10,000 USD
    return {
        "date": day.isoformat(),
        "requests": requests,
        "cost_usd": f"{cost // 10_000}.{cost % 10_000:04d}",
        "final": final,
    }


def z_daily_rows(
    world: World, project: Service, start: datetime.date, end: datetime.date,
    today: datetime.date,
) -> list[dict[str, Any]]:
    """The report rows for the inclusive days [start, end] as of `today`."""
    rows = []
    day = start
    while day <= end:
        if x_day_exists(world, project, day, today):  # same lifetime rules as VendorX
            rows.append(z_daily_row(world, project, day, today))
        day += DAY
    return rows


# --- VendorY: one row per app per hour per metric -------------------------------------------


@dataclass(frozen=True)
class UsageWindow:
    rows: list[dict[str, Any]]  # present rows, sorted by (ts, metric)
    missing_hours: list[int]  # hours that exist but have not arrived yet


def y_hour_exists(world: World, app: Service, hour: int) -> bool:
    """The app was alive during that hour and it lies inside the history."""
    if hour < world.history_start_ts or hour < _first_hour(app.created):
        return False
    return app.deleted is None or hour < app.deleted.timestamp()


def y_available_at(world: World, app: Service, hour: int) -> int:
    """Epoch second at which the hour's rows appear: a few arrive up to 48 h after it starts."""
    late, delay = units(2, world.seed, "y.late", app.id, hour)
    if late < Y_LATE_SHARE:
        return hour + HOUR + int(delay * (Y_MAX_LATENESS_S - HOUR))
    return hour + HOUR


def y_hour_cents(
    world: World, app: Service, hour: int, revision: int, late: bool = False
) -> tuple[int, int, int]:
    """(compute_seconds, egress MiB, requests) in hundredths, at `revision` (`late`: a day
    past the usual restatement window that the vendor has not finalised yet)."""
    scale, kib_per_request, cpu_ms = drawn_once(3, world.seed, "y.app", app.id)
    noise = units(3, world.seed, "y.hour", app.id, hour)
    diurnal = DIURNAL[(hour // HOUR) % 24]
    requests = int(10 ** (1 + 4 * scale) * diurnal * (0.8 + 0.4 * noise[0]))
    egress = int(requests * (1 + 499 * kib_per_request) / 1024 * (0.9 + 0.2 * noise[1]) * 100)
    compute = int(requests * (1 + 199 * cpu_ms) / 1000 * (0.9 + 0.2 * noise[2]) * 100)
    if late or (revision < Y_FINAL_AGE and revises(world, app, utc_day(hour))):
        # Restatements converge on the final value from below.
        pct = 93 + min(revision, Y_FINAL_AGE - 1)
        requests, egress, compute = requests * pct // 100, egress * pct // 100, compute * pct // 100
    return compute, egress, requests * 100


def cents_text(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def utc_day(ts: int) -> datetime.date:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).date()


def y_hour_rows(
    world: World, app: Service, hour: int, today: datetime.date
) -> list[dict[str, Any]]:
    """The hour's row per metric, at the revision its age gives it."""
    day = utc_day(hour)
    age = (today - day).days
    final_age = Y_FINAL_AGE + late_days(world, app, day)
    revision = min(age, final_age)
    values = y_hour_cents(world, app, hour, revision, late=Y_FINAL_AGE <= age < final_age)
    return [
        {
            "ts": hour,
            "metric": metric,
            "value": cents_text(cents),
            "unit": unit_name,
            "estimated": age < final_age,
            "revision": revision,
        }
        for (metric, unit_name), cents in zip(Y_METRICS, values, strict=True)
    ]


def y_usage(
    world: World, app: Service, start_ts: int, end_ts: int, today: datetime.date
) -> UsageWindow:
    """Rows for the half-open window [start_ts, end_ts) as seen at `today` 00:00 UTC."""
    now = epoch(today)
    rows: list[dict[str, Any]] = []
    missing: list[int] = []
    hour = -(-start_ts // HOUR) * HOUR  # first hour starting inside the window
    while hour < end_ts:
        if y_hour_exists(world, app, hour):
            if now < y_available_at(world, app, hour):
                missing.append(hour)
            else:
                rows.extend(y_hour_rows(world, app, hour, today))
        hour += HOUR
    return UsageWindow(rows, missing)
