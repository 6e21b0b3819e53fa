"""The base of every stream in the taps: where its HTTP client, bookmarks and window come from.

Streams stay plain singer-sdk streams (so the SDK's own sync path and standard tests work);
the fan-out engine asks each stream for a partition's plan (`plan_partition`): its steps
and how its bookmark advances (see `steps.py`, `daywindows.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, cast

from singer_sdk.helpers.types import Context, Record
from singer_sdk.streams import Stream
from typing_extensions import override

from singer_fanout import sdk_seam
from singer_fanout.dates import parse_day
from singer_fanout.daywindows import DayWindowPlan, StartWindow, WindowAnswer
from singer_fanout.finality import DayRules, Lifetime, due_days
from singer_fanout.steps import PartitionPlan, WholePartitionPlan

if TYPE_CHECKING:
    from collections.abc import Mapping

    from singer_fanout.http_client import HttpClient
    from singer_fanout.tap import FanOutTap


class PartitionedStream(Stream):
    """A stream whose partitions the kit fetches concurrently.

    Incremental streams keyed by a UTC day get `sync_window(context)`: the days to ask for,
    from the partition's bookmark minus the lookback, to `end_date` or yesterday.
    """

    # Contract keys the child context carries; declared by each stream.
    context_keys: tuple[str, ...] = ()

    @property
    def fanout_tap(self) -> FanOutTap:
        return cast("FanOutTap", sdk_seam.tap_of(self))

    @property
    def client(self) -> HttpClient:
        return self.fanout_tap.http_client

    def rate_limit_scope(self, context: Mapping[str, Any] | None) -> str:
        """The vendor's rate-limit bucket this partition's requests count against."""
        return "default"

    def sync_window(self, context: Mapping[str, Any] | None) -> tuple[dt.date, dt.date] | None:
        """Inclusive UTC days to fetch for this partition, or None when nothing is due."""
        settings = self.fanout_tap.run_settings
        first = settings.start_date
        bookmark = self.fanout_tap.state_book.bookmark(self.name, context or {})
        if bookmark is not None:
            first = max(first, parse_day(str(bookmark)) - dt.timedelta(days=settings.lookback_days))
        # "Today" is frozen once per run, so a run crossing midnight plans consistently.
        yesterday = settings.today - dt.timedelta(days=1)
        last = min(settings.end_date or yesterday, yesterday)
        retention_start = settings.today - dt.timedelta(days=settings.retention_days)
        if first < retention_start:
            # The vendor rejects such requests outright; what it still keeps is worth having.
            self.fanout_tap.warn_once(
                f"{self.name}: start_date {first} is older than the vendor keeps data "
                f"({settings.retention_days} days); starting at {retention_start} instead"
            )
            first = retention_start
        return (first, last) if first <= last else None

    def child_hints(self, record: Record) -> Any:
        """What a child partition should know of this record beyond its context (e.g. a
        service's lifetime); None by default."""
        return None

    def plan_partition(self, context: Mapping[str, Any] | None, hints: Any) -> PartitionPlan:
        """How the engine fetches one partition: by default in one step, `get_records`,
        bookmarked (when the stream is incremental) once all its records are written."""
        if not self.replication_key:
            return WholePartitionPlan(self, context)

        def bookmark(records: list[dict[str, Any]]) -> None:
            value = self.completed_bookmark(context, records)
            if value is not None and self.replication_key:
                self.fanout_tap.state_book.advance(self.name, context or {},
                                                   self.replication_key, value)

        return WholePartitionPlan(self, context, bookmark)

    def completed_bookmark(
        self, context: Mapping[str, Any] | None, records: list[dict[str, Any]]
    ) -> Any:
        """The bookmark a partition fetched whole earns once all its records are written.

        For day-keyed streams this is the last day synced (the window's end), not the last
        day that had data: a deleted service would otherwise re-read a growing range.
        """
        window = self.sync_window(context)
        if window is not None:
            return window[1].isoformat()
        return None

    def get_child_context(self, record: Record, context: Context | None) -> dict | None:
        """Children get exactly the contract keys, nothing else."""
        return {key: record[key] for key in self.child_context_keys}

    @cached_property
    def child_context_keys(self) -> tuple[str, ...]:
        # Asked once per parent record; the children are wired before any sync starts.
        keys: set[str] = set()
        for child in self.child_streams:
            keys.update(getattr(child, "context_keys", ()))
        return tuple(sorted(keys))


class DayPartitionedStream(PartitionedStream):
    """A stream of one record per partition per UTC day, fetched in request windows.

    A tap's stream says how many days one request may cover (`max_window_days`) and
    fetches one window (`fetch_window`), saying which of its days the vendor has not marked
    final yet; the kit plans the days due (see `finality.py`: new days, days not final yet,
    none before the service existed or after it ended), runs the windows concurrently and
    advances the bookmark over the finished ones (see `daywindows.py`). The parent stream
    tells each service's lifetime with `child_hints` (a `Lifetime`).
    """

    replication_key = "date"
    max_window_days: ClassVar[int] = 1

    def fetch_window(
        self, context: Mapping[str, Any], first: dt.date, last: dt.date
    ) -> WindowAnswer:
        """Worker side: the records of the inclusive days [first, last] (one window), and
        which of those days the vendor may still change."""
        raise NotImplementedError

    def start_window(self, context: Mapping[str, Any]) -> StartWindow | None:
        """How a window's fetching starts when it is more than one request (a report job:
        submit, then polls); None: `fetch_window` in one step."""
        return None

    @cached_property
    def day_rules(self) -> DayRules:
        settings = self.fanout_tap.run_settings
        return DayRules(
            today=settings.today, start_date=settings.start_date, end_date=settings.end_date,
            lookback_days=settings.lookback_days, retention_days=settings.retention_days,
            revision_days=self.fanout_tap.vendor.revision_days,
        )

    @override
    def plan_partition(self, context: Mapping[str, Any] | None, hints: Any) -> DayWindowPlan:
        assert context is not None
        lifetime = hints if isinstance(hints, Lifetime) else Lifetime()
        book = self.fanout_tap.state_book
        entry = book.entry(self.name, context)
        rules = self.day_rules
        if entry is None and rules.start_date < rules.today - dt.timedelta(
                days=rules.retention_days):
            # The vendor rejects such requests outright; what it still keeps is worth having.
            self.fanout_tap.warn_once(
                f"{self.name}: start_date {rules.start_date} is older than the vendor keeps "
                f"data ({rules.retention_days} days); starting at the oldest day it keeps"
            )
        return DayWindowPlan(
            stream=self, context=context, book=book, due=due_days(rules, entry, lifetime),
            lifetime=lifetime, max_window_days=self.max_window_days, fetch=self.fetch_window,
            start=self.start_window(context),
        )

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        # singer-sdk's own sync path (its standard tests): the same windows, one by one.
        assert context is not None
        for window in self.plan_partition(context, None).windows:
            yield from self.fetch_window(context, window.first, window.last).records


class SelectedAccountsOnly(PartitionedStream):
    """For the stream that lists accounts: keep those `account_ids` and `shard` select.

    Filtering here, at the root, is what keeps an unselected account's services and metrics
    from ever being requested, and a shard's state free of other shards' partitions.
    """

    @cached_property
    def listed_account_ids(self) -> set[str]:
        """Every account id the vendor's listing returned in this run, wanted or not."""
        return set()

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        self.listed_account_ids.add(row["account_id"])
        return row if self.fanout_tap.run_settings.wants_account(row["account_id"]) else None
