"""What a finality-aware incremental run must read, from the sandbox's truth alone.

For each service: every day read before that the vendor had not marked final at the last
run, plus the new days since, from the day it was created to the last day it can have data.
A VendorX service says the day it was deleted and a VendorZ project the day it was archived;
a VendorY app only that it is archived, so a tap that saw its data reach the last day it read
reads on until it finds days without data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

from singer_fanout.dates import parse_day
from vendor_sandbox import SandboxConfig
from vendor_sandbox.truth import day_finality
from vendor_sandbox.world import build_world

ONE_DAY = dt.timedelta(days=1)


def due_after(
    previous: SandboxConfig, previous_end: dt.date, end: dt.date, start: dt.date
) -> dict[str, set[dt.date]]:
    """Days per service id a run ending at `end` reads after a run of `previous` (its
    sandbox as of that run) that ended at `previous_end`."""
    previous_today = previous.resolved_today()
    states = day_finality(previous)
    world = build_world(previous, previous_today)
    out: dict[str, set[dt.date]] = {}
    for services in world.services.values():
        for service in services:
            seen = {day: final for day, final in states[service.id].items()
                    if start <= day <= previous_end}
            due = {day for day, final in seen.items() if not final}
            if service.deleted is None:
                known_last = end
            elif previous.vendor in ("x", "z"):
                assert service.deleted_day is not None
                known_last = service.deleted_day
            else:
                last_data = max(seen, default=None)
                # Data up to the last day read: it may have gone on after it (the tap's
                # "today" is the real one), so the tap reads on until it finds days empty.
                known_last = (end if last_data is not None and last_data >= previous_end
                              else last_data or previous_end)
            day = max(previous_end + ONE_DAY, service.created_day, start)
            while day <= min(end, known_last):
                due.add(day)
                day += ONE_DAY
            if due:
                out[service.id] = due
    return out


def expected_reads(
    previous: SandboxConfig, previous_end: dt.date, end: dt.date, start: dt.date
) -> Counter[str]:
    """How many days per service id that is (what the sandbox counts)."""
    return Counter({service: len(days)
                    for service, days in due_after(previous, previous_end, end, start).items()})


def non_final_days(config: SandboxConfig, start: dt.date, end: dt.date) -> Counter[str]:
    """Per service id, the days in [start, end] the vendor has not marked final."""
    counts = Counter({service: sum(1 for day, final in days.items()
                                   if start <= day <= end and not final)
                      for service, days in day_finality(config).items()})
    return +counts  # without the services at zero


def at(config: SandboxConfig, today: dt.date) -> SandboxConfig:
    return dataclasses.replace(config, today=today)


def first_day_with_data(config: SandboxConfig, service_id: str, start: dt.date) -> dt.date:
    """The first day a backfill from `start` asks for: none before the service existed."""
    world = build_world(config, config.resolved_today())
    return max(start, world.service_by_id[service_id].created_day)


def last_days(vendor: str, services: Iterable[dict[str, Any]], start: dt.date,
              end: str) -> dict[tuple[str, str], str]:
    """The bookmark a backfill leaves per service: `end`, or a deleted VendorX service's (an
    archived VendorZ project's) last day; none for one created after `end` or deleted before
    `start`."""
    out = {}
    last_wanted = dt.date.fromisoformat(end)
    for service in services:
        if vendor in ("x", "z"):
            ended = service["deleted_at" if vendor == "x" else "archived_at"]
            created = parse_day(service["created_at"])
            deleted = parse_day(ended) if ended else None
        else:
            created = dt.datetime.fromtimestamp(service["created_ts"], dt.timezone.utc).date()
            deleted = None
        last = min(last_wanted, deleted) if deleted else last_wanted
        if max(start, created) <= last:
            out[(service["account_id"], service["service_id"])] = last.isoformat()
    return out
