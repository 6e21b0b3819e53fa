"""Which days of a day-keyed partition are due: finality-aware incremental planning.

A run reads, for each service:

- the days after its bookmark, up to yesterday (or `end_date`), never before the service
  existed and never after its last day when it is deleted or archived;
- every day up to the bookmark that the vendor had not marked final when it was last read
  ("unsettled"), however old, until it is final;
- `lookback_days` more days before the bookmark, as an explicit extra margin (0 by default).

A final day is not read again, and a deleted service whose days are all synced and final is
not requested at all. What the partition needs for this lives in its state entry, next to
singer-sdk's own keys (readers of the state ignore keys they do not know):

    {"context": {...}, "replication_key": "date", "replication_key_value": "2026-11-27",
     "unsettled": ["2026-11-02", "2026-11-21/2026-11-27"], "ends": "2026-11-28"}

`unsettled` lists days and inclusive ranges `first/last` (ISO 8601 interval notation);
`ends` is the last day a deleted service can have data, when its record does not say it.
A state written before finality tracking (no `unsettled` key) re-reads the vendor's revision
window before the bookmark once, then carries its own `unsettled`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ONE_DAY = dt.timedelta(days=1)
UNSETTLED_KEY = "unsettled"
ENDS_KEY = "ends"


@dataclass(frozen=True)
class Lifetime:
    """What a service's record says about when it can have data (None: not said)."""

    created: dt.date | None = None
    ended: dt.date | None = None  # the last day it can have data (a deletion's day)
    gone: bool = False  # deleted or archived, whether or not its record says when


def encode_days(days: Iterable[dt.date]) -> list[str]:
    """Sorted days as a compact list of days and `first/last` ranges."""
    out: list[str] = []
    run_first = run_last = None
    for day in sorted(set(days)):
        if run_last is not None and day == run_last + ONE_DAY:
            run_last = day
            continue
        if run_first is not None and run_last is not None:
            out.append(_range_text(run_first, run_last))
        run_first = run_last = day
    if run_first is not None and run_last is not None:
        out.append(_range_text(run_first, run_last))
    return out


def decode_days(items: Iterable[Any]) -> set[dt.date]:
    days: set[dt.date] = set()
    for item in items:
        first, last = _day_range(str(item))
        while first <= last:
            days.add(first)
            first += ONE_DAY
    return days


def unreadable_days(items: Any) -> str | None:
    """What is wrong with a stored `unsettled` value (None: it reads as days)."""
    if not isinstance(items, list):
        return "should be a list"
    for item in items:
        try:
            first, last = _day_range(item if isinstance(item, str) else "")
        except ValueError:
            return f"has {json.dumps(item)[:80]}, which is not a day or a range"
        if last < first:
            return f"has {json.dumps(item)[:80]}, a range that ends before it starts"
    return None


def _day_range(text: str) -> tuple[dt.date, dt.date]:
    """A stored day or `first/last` range as (first, last); ValueError when it is neither."""
    first_text, slash, last_text = text.partition("/")
    first = dt.date.fromisoformat(first_text)
    return first, dt.date.fromisoformat(last_text) if slash else first


def _range_text(first: dt.date, last: dt.date) -> str:
    return first.isoformat() if first == last else f"{first.isoformat()}/{last.isoformat()}"


@dataclass(frozen=True)
class DuePlan:
    """The days a run reads for one partition, and what it needs to bookmark them."""

    days: list[dt.date]  # sorted
    bookmark: dt.date | None  # the bookmark the run started from
    unsettled: set[dt.date]  # days up to the bookmark not final when last read
    ends: dt.date | None  # the last day the service can have data, if known


@dataclass(frozen=True)
class DayRules:
    """The run's settings that decide which days are due."""

    today: dt.date
    start_date: dt.date
    end_date: dt.date | None
    lookback_days: int
    retention_days: int
    revision_days: int  # re-read once for a state written before finality tracking


def due_days(rules: DayRules, entry: Mapping[str, Any] | None, lifetime: Lifetime) -> DuePlan:
    yesterday = rules.today - ONE_DAY
    last = min(rules.end_date or yesterday, yesterday)
    floor = rules.today - dt.timedelta(days=rules.retention_days)
    if lifetime.created is not None:
        floor = max(floor, lifetime.created)
    bookmark_text = entry.get("replication_key_value") if entry else None
    bookmark = dt.date.fromisoformat(str(bookmark_text)[:10]) if bookmark_text else None
    ends = _ends(lifetime, entry, rules.today)
    ceiling = min(last, ends) if ends is not None else last

    if entry is not None and UNSETTLED_KEY in entry:
        unsettled = decode_days(entry[UNSETTLED_KEY])
    elif bookmark is not None:
        # A state from before finality tracking: assume the revision window is unsettled.
        unsettled = {bookmark - dt.timedelta(days=n) for n in range(rules.revision_days)}
    else:
        unsettled = set()
    # Days the vendor no longer keeps (or before the service existed) cannot be read again.
    unsettled = {day for day in unsettled if day >= floor}
    due = {day for day in unsettled if day <= last}
    if bookmark is None:
        first_new = max(rules.start_date, floor)
    else:
        first_new = max(bookmark + ONE_DAY, floor)
        margin_first = max(bookmark - dt.timedelta(days=rules.lookback_days - 1), floor)
        due.update(_days(margin_first, min(bookmark, last)) if rules.lookback_days else ())
    due.update(_days(first_new, ceiling))
    return DuePlan(sorted(due), bookmark, unsettled, ends)


def _ends(lifetime: Lifetime, entry: Mapping[str, Any] | None, today: dt.date) -> dt.date | None:
    if lifetime.ended is not None:
        return lifetime.ended
    if not lifetime.gone:
        return None
    stored = entry.get(ENDS_KEY) if entry else None
    # Gone without a date: it had its last data at the latest today, when it was seen gone.
    return dt.date.fromisoformat(str(stored)) if stored else today


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    out = []
    while first <= last:
        out.append(first)
        first += ONE_DAY
    return out


def runs_of_days(days: list[dt.date], max_days: int) -> list[tuple[dt.date, dt.date]]:
    """Sorted days as request windows: consecutive days together, at most `max_days` each.

    Days that are not due are never bridged: a final day is not read again, even when one
    wider request could have covered it.
    """
    windows: list[tuple[dt.date, dt.date]] = []
    first = previous = None
    for day in days:
        if (first is not None and previous is not None and day == previous + ONE_DAY
                and (day - first).days < max_days):
            previous = day
            continue
        if first is not None and previous is not None:
            windows.append((first, previous))
        first = previous = day
    if first is not None and previous is not None:
        windows.append((first, previous))
    return windows
