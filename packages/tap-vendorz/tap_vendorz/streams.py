"""VendorZ streams: workspaces -> projects -> reports, as accounts -> services -> metrics.

A project's daily usage comes from an asynchronous report (submit, poll, download CSV);
the kit runs it as steps that hold no worker while the report is being prepared.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from singer_sdk.helpers.types import Context, Record
from typing_extensions import override

from singer_fanout.dates import day_or_none
from singer_fanout.errors import PartitionError
from singer_fanout.finality import Lifetime
from singer_fanout.jobs import JobStatus, ReportStream
from singer_fanout.stream import SelectedAccountsOnly
from tap_vendorz.client import VendorZStream


class AccountsStream(SelectedAccountsOnly, VendorZStream):
    name = "accounts"
    path = "/v3/workspaces"
    primary_keys = ("account_id",)

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        for workspace in self.items(self.path, what="VendorZ workspaces"):
            yield {**workspace, "account_id": workspace["id"]}


class ServicesStream(VendorZStream):
    name = "services"
    path = "/v3/workspaces/{account_id}/projects"
    parent_stream_type = AccountsStream
    context_keys = ("account_id",)
    primary_keys = ("account_id", "service_id")

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None
        account_id = context["account_id"]
        path = self.path.format(account_id=account_id)
        for project in self.items(path, what=f"VendorZ workspace {account_id} projects"):
            yield {**project, "account_id": account_id, "service_id": project["id"]}

    @override
    def child_hints(self, record: Record) -> Lifetime:
        """Its reports have rows from `created_at` to the day of `archived_at` (when set)."""
        archived = day_or_none(record.get("archived_at"))
        return Lifetime(created=day_or_none(record.get("created_at")), ended=archived,
                        gone=record.get("archived_at") is not None)


@dataclass(frozen=True)
class UsageReport:
    """One report job: a project's usage for the inclusive days [first, last]."""

    stream: MetricsStream
    context: Mapping[str, Any]
    first: dt.date
    last: dt.date

    @property
    def what(self) -> str:
        return (f"VendorZ workspace {self.context['account_id']} project "
                f"{self.context['service_id']} report {self.first}..{self.last}")

    def submit(self) -> str:
        path = self.stream.path.format(**self.context)
        body = {"from": self.first.isoformat(), "to": self.last.isoformat()}
        reply = self.stream.client.request("POST", path, json_body=body, scope="client",
                                           what=self.what)
        report_id = reply.payload.get("report_id") if isinstance(reply.payload, dict) else None
        if not isinstance(report_id, str):
            raise PartitionError(self.what, "the answer to the report request has no report_id")
        return report_id

    def poll(self, handle: str) -> JobStatus:
        body = self.stream.client.get_json(f"/v3/reports/{handle}", {}, scope="client",
                                           what=self.what)
        state = body.get("status") if isinstance(body, dict) else None
        if state not in ("pending", "ready", "failed"):
            raise PartitionError(self.what, f"unknown report status {state!r}")
        return JobStatus(state, str(body.get("error", "")), body.get("download_url"))

    def fetch(self, handle: str, status: JobStatus) -> list[dict[str, Any]]:
        reply = self.stream.client.request("GET", str(status.result), scope="client",
                                           what=self.what, parse_json=False)
        try:
            rows = reply.csv_rows()
        except ValueError as error:
            raise PartitionError(self.what, f"the report is not CSV: {error}") from None
        ids = {"account_id": self.context["account_id"], "service_id": self.context["service_id"]}
        return [{**_typed(row, self.what), **ids} for row in rows]


def _typed(row: dict[str, str], what: str) -> dict[str, Any]:
    """A CSV row as the schema's types: requests an integer, final a boolean."""
    try:
        return {"date": row["date"], "requests": int(row["requests"]),
                "cost_usd": row["cost_usd"], "final": {"true": True, "false": False}[row["final"]]}
    except (KeyError, ValueError) as error:
        raise PartitionError(what, f"unexpected report row {row!r} ({error!r})") from None


class MetricsStream(ReportStream, VendorZStream):
    name = "metrics"
    path = "/v3/workspaces/{account_id}/projects/{service_id}/reports"
    parent_stream_type = ServicesStream
    context_keys = ("account_id", "service_id")
    primary_keys = ("account_id", "service_id", "date")
    replication_key = "date"
    max_window_days = 92  # VendorZ reports cover at most 92 days

    @override
    def report_job(self, context: Mapping[str, Any], first: dt.date,
                   last: dt.date) -> UsageReport:
        return UsageReport(self, context, first, last)

    @override
    def unsettled_days(self, rows: list[Record]) -> set[dt.date]:
        """Days whose `final` is not true: VendorZ may still change them."""
        return {day for row in rows if row.get("final") is not True
                and (day := day_or_none(row.get("date"))) is not None}
