"""UTC-day arithmetic used to plan incremental windows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

UTC = dt.timezone.utc


def utc_today() -> dt.date:
    return dt.datetime.now(UTC).date()


def parse_day(value: str) -> dt.date:
    """Accept `YYYY-MM-DD` or an ISO timestamp; return its UTC calendar day."""
    text = value.strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC)
    return stamp.date()


def day_or_none(value: Any) -> dt.date | None:
    """A UTC day from an ISO date or timestamp; None when absent or unreadable (a record
    check reports a wrong type; here it only means "not known")."""
    if not isinstance(value, str):
        return None
    try:
        return parse_day(value)
    except ValueError:
        return None


def day_windows(first: dt.date, last: dt.date, max_days: int) -> Iterator[tuple[dt.date, dt.date]]:
    """Split the inclusive range [first, last] into inclusive windows of at most max_days."""
    start = first
    while start <= last:
        end = min(last, start + dt.timedelta(days=max_days - 1))
        yield start, end
        start = end + dt.timedelta(days=1)


def days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    """Every day of the inclusive range [first, last]."""
    current = first
    while current <= last:
        yield current
        current += dt.timedelta(days=1)


def day_start_epoch(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
