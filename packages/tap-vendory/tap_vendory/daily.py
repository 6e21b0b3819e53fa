"""Sum one UTC day of VendorY's hourly long-format rows into one daily record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from singer_fanout.dates import day_start_epoch
from singer_fanout.errors import PartitionError

# VendorY's metrics and the record field each one is summed into (the vendor's own names).
METRICS = ("requests", "egress", "compute_seconds")
SECONDS_PER_DAY = 86_400


def summarise_day(
    day: dt.date,
    rows: Iterable[dict[str, Any]],
    missing_hours: set[int],
    what: str,
    unknown_metrics: set[str] | None = None,
) -> dict[str, Any] | None:
    """The day's totals, or None when the vendor has no rows for it (e.g. before creation).

    Metrics the tap does not know are not summed; their names go into `unknown_metrics`.
    """
    start = day_start_epoch(day)
    totals = {metric: Decimal(0) for metric in METRICS}
    hours: set[int] = set()
    estimated = False
    revision = 0
    seen = False
    for row in rows:
        ts, metric, value = row.get("ts"), row.get("metric"), row.get("value")
        if ts is None:
            raise PartitionError(what, "a row is missing its field 'ts'")
        if type(ts) is not int:  # bool is an int subclass, and no epoch
            raise PartitionError(what, f"row field 'ts' should be integer epoch seconds, "
                                 f"got {type(ts).__name__} {ts!r}")
        if not start <= ts < start + SECONDS_PER_DAY:
            raise PartitionError(what, f"row has ts {ts!r}, outside the requested day")
        if type(metric) is not str:
            raise PartitionError(what, f"row at ts {ts}: field 'metric' should be a string, "
                                 f"got {type(metric).__name__} {metric!r}")
        if metric not in totals:
            if unknown_metrics is not None:
                unknown_metrics.add(metric)
            continue  # a metric this tap does not know yet: not summed into a known one
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite():
            raise PartitionError(
                what, f"row at ts {ts} metric {metric}: value {value!r} is not a finite decimal"
            )
        where = f"row at ts {ts} metric {metric}"
        row_estimated = _optional(row, "estimated", bool, where, what)
        row_revision = _optional(row, "revision", int, where, what)
        totals[metric] += amount
        hours.add(ts)
        estimated = estimated or bool(row_estimated)
        if row_revision is not None:
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


def _optional(row: dict[str, Any], name: str, kind: type, where: str, what: str) -> Any:
    """An optional row field: absent says nothing, but a wrong type is refused.

    A flag of the wrong type would silently become the wrong answer (the string "false"
    is truthy), so it fails the partition instead.
    """
    value = row.get(name)
    if value is not None and type(value) is not kind:
        raise PartitionError(what, f"{where}: field '{name}' should be {kind.__name__}, got "
                             f"{type(value).__name__} {value!r}")
    return value
