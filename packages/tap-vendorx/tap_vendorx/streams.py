"""VendorX streams: accounts -> services -> metrics (one partition per service)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from singer_sdk.helpers.types import Context, Record
from typing_extensions import override

from singer_fanout.dates import day_or_none
from singer_fanout.daywindows import WindowAnswer
from singer_fanout.finality import Lifetime
from singer_fanout.payload import require_fields, require_list
from singer_fanout.stream import DayPartitionedStream, SelectedAccountsOnly
from tap_vendorx.client import VendorXStream


class AccountsStream(SelectedAccountsOnly, VendorXStream):
    name = "accounts"
    path = "/v1/accounts"
    primary_keys = ("account_id",)

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        for account in self.paginate(self.path, what="VendorX accounts"):
            require_fields(account, ("id",), "VendorX accounts")
            yield {**account, "account_id": account["id"]}


class ServicesStream(VendorXStream):
    name = "services"
    path = "/v1/accounts/{account_id}/services"
    parent_stream_type = AccountsStream
    context_keys = ("account_id",)
    primary_keys = ("account_id", "service_id")

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None
        account_id = context["account_id"]
        what = f"VendorX account {account_id} services"
        for service in self.paginate(self.path.format(account_id=account_id), what=what):
            require_fields(service, ("id",), what)
            yield {**service, "account_id": account_id, "service_id": service["id"]}

    @override
    def child_hints(self, record: Record) -> Lifetime:
        """Its metrics exist from `created_at` to the day of `deleted_at` (when set)."""
        deleted = day_or_none(record.get("deleted_at"))
        return Lifetime(created=day_or_none(record.get("created_at")), ended=deleted,
                        gone=record.get("deleted_at") is not None)


class MetricsStream(DayPartitionedStream, VendorXStream):
    name = "metrics"
    path = "/v1/accounts/{account_id}/services/{service_id}/metrics/daily"
    parent_stream_type = ServicesStream
    context_keys = ("account_id", "service_id")
    primary_keys = ("account_id", "service_id", "date")
    replication_key = "date"
    max_window_days = 31  # VendorX answers at most 31 days per metrics call

    @override
    def fetch_window(
        self, context: Mapping[str, Any], first: dt.date, last: dt.date
    ) -> WindowAnswer:
        account_id, service_id = context["account_id"], context["service_id"]
        path = self.path.format(account_id=account_id, service_id=service_id)
        what = f"VendorX account {account_id} service {service_id} metrics {first}..{last}"
        payload = self.client.get_json(
            path,
            {"start_date": first.isoformat(), "end_date": last.isoformat()},
            scope=self.rate_limit_scope(context),
            what=what,
        )
        records = []
        unsettled = set()
        for row in require_list(payload, "data", what):
            require_fields(row, ("date",), what)
            # The row is this call's own (freshly parsed): completed in place, not copied.
            row["account_id"], row["service_id"] = account_id, service_id
            records.append(row)
            if row.get("is_final") is not True:  # revised until the vendor says final
                day = day_or_none(row["date"])
                if day is not None:
                    unsettled.add(day)
        return WindowAnswer(records, unsettled)
