"""Sum one UTC day of VendorY's hourly long-format rows into one daily record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from tapkit.dates import day_start_epoch
from tapkit.errors import PartitionError

# VendorY's metrics and the record field each one is summed into (the vendor's own names).
METRICS = ("requests", "egress", "compute_seconds")
SECONDS_PER_DAY = 86_400


def summarise_day(
    day: dt.date, rows: Iterable[dict[str, Any]], missing_hours: set[int], what: str
) -> dict[str, Any] | None:
    """The day's totals, or None when the vendor has no rows for it (e.g. before creation)."""
    start = day_start_epoch(day)
    totals = {metric: Decimal(0) for metric in METRICS}
    hours: set[int] = set()
    estimated = False
    revision = 0
    seen = False
    for row in rows:
        ts, metric, value = row.get("ts"), row.get("metric"), row.get("value")
        if not isinstance(ts, int) or not start <= ts < start + SECONDS_PER_DAY:
            raise PartitionError(what, f"row has ts {ts!r}, outside the requested day")
        if metric not in totals:
            continue  # a metric this tap does not know yet: not summed into a known one
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite():
            raise PartitionError(
                what, f"row at ts {ts} metric {metric}: value {value!r} is not a finite decimal"
            )
        totals[metric] += amount
        hours.add(ts)
        estimated = estimated or bool(row.get("estimated"))
        row_revision = row.get("revision")
        if isinstance(row_revision, int):
            revision = max(revision, row_revision)
        seen = True
    if not seen:
        return None
    return {
        "date": day.isoformat(),
        **totals,
        "hours_reported": len(hours),
        "missing_hours": sorted(missing_hours),
        "incomplete": bool(missing_hours),
        "estimated": estimated,
        "revision": revision,
    }
