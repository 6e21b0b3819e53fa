"""VendorY streams: orgs -> apps -> usage, as accounts -> services -> metrics.

VendorY answers one UTC day of hourly rows per call; each day's rows are summed into one
`metrics` record per app per day, with the day's completeness on the record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from singer_sdk.helpers.types import Context, Record
from typing_extensions import override

from singer_fanout.dates import day_start_epoch, days
from singer_fanout.daywindows import WindowAnswer
from singer_fanout.finality import Lifetime
from singer_fanout.payload import require_fields
from singer_fanout.stream import DayPartitionedStream, SelectedAccountsOnly
from tap_vendory.client import VendorYStream
from tap_vendory.daily import summarise_day

SECONDS_PER_DAY = 86_400


class AccountsStream(SelectedAccountsOnly, VendorYStream):
    name = "accounts"
    path = "/api/v2/orgs"
    primary_keys = ("account_id",)

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        what = "VendorY orgs"
        for page in self.paginate(self.path, {}, context=None, what=what):
            for org in page["items"]:
                require_fields(org, ("org_id",), what)
                yield {**org, "account_id": org["org_id"]}


class ServicesStream(VendorYStream):
    name = "services"
    path = "/api/v2/orgs/{account_id}/apps"
    parent_stream_type = AccountsStream
    context_keys = ("account_id",)
    primary_keys = ("account_id", "service_id")

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None
        account_id = context["account_id"]
        what = f"VendorY org {account_id} apps"
        path = self.path.format(account_id=account_id)
        for page in self.paginate(path, {}, context=context, what=what):
            for app in page["items"]:
                require_fields(app, ("app_id",), what)
                yield {**app, "account_id": account_id, "service_id": app["app_id"]}

    @override
    def child_hints(self, record: Record) -> Lifetime:
        """Its usage exists from `created_ts` on; an archived app says not when it ended."""
        created = record.get("created_ts")
        created_day = (dt.datetime.fromtimestamp(created, dt.timezone.utc).date()
                       if type(created) is int else None)
        return Lifetime(created=created_day, gone=record.get("archived") is True)


class MetricsStream(DayPartitionedStream, VendorYStream):
    name = "metrics"
    path = "/api/v2/orgs/{account_id}/apps/{service_id}/usage/hourly"
    parent_stream_type = ServicesStream
    context_keys = ("account_id", "service_id")
    primary_keys = ("account_id", "service_id", "date")
    replication_key = "date"
    max_window_days = 1  # VendorY answers at most one UTC day per call

    @override
    def fetch_window(
        self, context: Mapping[str, Any], first: dt.date, last: dt.date
    ) -> WindowAnswer:
        account_id, service_id = context["account_id"], context["service_id"]
        path = self.path.format(account_id=account_id, service_id=service_id)
        answer = WindowAnswer([])
        for day in days(first, last):
            what = f"VendorY org {account_id} app {service_id} usage {day}"
            record, missing_hours = self._one_day(path, day, context, what)
            if record is not None:
                record["account_id"], record["service_id"] = account_id, service_id
                answer.records.append(record)
            # Final once no hour is estimated or still to come (an app whose every hour of
            # the day is late has no record yet, but the day is not settled either).
            if missing_hours or (record is not None and record["estimated"]):
                answer.unsettled.add(day)
        return answer

    def _one_day(
        self, path: str, day: dt.date, context: Mapping[str, Any], what: str
    ) -> tuple[dict[str, Any] | None, set[int]]:
        start = day_start_epoch(day)
        params = {"start_ts": start, "end_ts": start + SECONDS_PER_DAY}
        rows: list[dict[str, Any]] = []
        missing_hours: set[int] = set()
        for page in self.paginate(path, params, context=context, what=what):
            rows.extend(page["items"])
            late = page.get("missing_hours") or []
            missing_hours.update(hour for hour in late if isinstance(hour, int))
        unknown: set[str] = set()
        record = summarise_day(day, rows, missing_hours, what, unknown)
        if unknown:
            self.fanout_tap.warn_once(
                f"VendorY usage has metrics this tap does not know, not summed: "
                f"{', '.join(sorted(unknown))}"
            )
        return record, missing_hours
