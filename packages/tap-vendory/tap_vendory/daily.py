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
_NAN = Decimal("NaN")
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
    end = start + SECONDS_PER_DAY
    totals = {metric: Decimal(0) for metric in METRICS}
    hours: set[int] = set()
    estimated = False
    revision = 0
    seen = False
    # Every row of every call passes here (72 a day): the words of an error are only put
    # together when there is one.
    for row in rows:
        ts, metric = _when_and_what(row, start, end, what)
        if metric not in totals:
            if unknown_metrics is not None:
                unknown_metrics.add(metric)
            continue  # a metric this tap does not know yet: not summed into a known one
        totals[metric] += _amount(row, what)
        row_estimated, row_revision = row.get("estimated"), row.get("revision")
        if (row_estimated is not None and type(row_estimated) is not bool) or (
                row_revision is not None and type(row_revision) is not int):
            _wrong_flag(row, what)
        hours.add(ts)
        if row_estimated:
            estimated = True
        if row_revision is not None and row_revision > revision:
            revision = row_revision
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


def _when_and_what(row: dict[str, Any], start: int, end: int, what: str) -> tuple[int, str]:
    ts, metric = row.get("ts"), row.get("metric")
    if ts is None:
        raise PartitionError(what, "a row is missing its field 'ts'")
    if type(ts) is not int:  # bool is an int subclass, and no epoch
        raise PartitionError(what, f"row field 'ts' should be integer epoch seconds, "
                             f"got {type(ts).__name__} {ts!r}")
    if not start <= ts < end:
        raise PartitionError(what, f"row has ts {ts!r}, outside the requested day")
    if type(metric) is not str:
        raise PartitionError(what, f"row at ts {ts}: field 'metric' should be a string, "
                             f"got {type(metric).__name__} {metric!r}")
    return ts, metric


def _amount(row: dict[str, Any], what: str) -> Decimal:
    value = row.get("value")
    try:
        amount = Decimal(value if type(value) is str else str(value))
    except InvalidOperation:
        amount = _NAN
    if not amount.is_finite():
        raise PartitionError(what, f"row at ts {row['ts']} metric {row['metric']}: value "
                             f"{value!r} is not a finite decimal")
    return amount


def _wrong_flag(row: dict[str, Any], what: str) -> None:
    """An optional flag of the wrong type is refused: absent says nothing, but a flag of the
    wrong type would silently become the wrong answer (the string "false" is truthy), so it
    fails the partition instead."""
    for name, kind in (("estimated", bool), ("revision", int)):
        value = row.get(name)
        if value is not None and type(value) is not kind:
            raise PartitionError(
                what, f"row at ts {row['ts']} metric {row['metric']}: field '{name}' should "
                f"be {kind.__name__}, got {type(value).__name__} {value!r}")
