"""Each service's days as runs of one status: final, not final, missing.

A service is expected to have every day from its first to its last day in the lake (a
service starts and stops when it starts and stops; the lake cannot know more without
naming vendors). When the last run summary says its partition failed, the service is also
expected up to the vendor's last day: the days the failure kept out are missing.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from target_parquet_lake.coverage.lake import Failure

FINAL, NOT_FINAL, MISSING = "final", "not_final", "missing"
STATUSES = (FINAL, NOT_FINAL, MISSING)
ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Run:
    """Consecutive days of one status, both ends inclusive."""

    start: datetime.date
    end: datetime.date
    status: str
    after_failure: bool = False  # missing because the last run failed the service's partition

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def span(self) -> str:
        return self.start.isoformat() if self.start == self.end else f"{self.start}..{self.end}"


@dataclass
class ServiceCoverage:
    account_id: str
    service_id: str
    runs: list[Run]
    failures: list[Failure] = field(default_factory=list)

    @property
    def first(self) -> datetime.date | None:
        return self.runs[0].start if self.runs else None

    @property
    def last_present(self) -> datetime.date | None:
        present = [run.end for run in self.runs if run.status != MISSING]
        return max(present) if present else None

    def days(self, status: str) -> int:
        return sum(run.days for run in self.runs if run.status == status)

    @property
    def gaps(self) -> list[Run]:
        return [run for run in self.runs if run.status == MISSING]


@dataclass
class VendorCoverage:
    name: str
    services: list[ServiceCoverage]
    summaries: list[tuple[str, str]]  # (path, written at)
    failures: list[Failure]  # every failed partition of the last run summaries
    unplaced_failures: list[Failure]  # those naming no service the lake knows

    @property
    def first(self) -> datetime.date | None:
        starts = [s.first for s in self.services if s.first]
        return min(starts) if starts else None

    @property
    def last(self) -> datetime.date | None:
        ends = [s.runs[-1].end for s in self.services if s.runs]
        return max(ends) if ends else None

    def days(self, status: str) -> int:
        return sum(service.days(status) for service in self.services)

    @property
    def has_gaps(self) -> bool:
        return bool(self.unplaced_failures) or any(s.gaps for s in self.services)


def _runs(days: Iterable[tuple[datetime.date, bool]]) -> list[Run]:
    """Runs over sorted (day, not_final) pairs; holes between them are missing runs."""
    runs: list[Run] = []
    for day, is_not_final in days:
        status = NOT_FINAL if is_not_final else FINAL
        if runs and runs[-1].end + ONE_DAY < day:
            runs.append(Run(runs[-1].end + ONE_DAY, day - ONE_DAY, MISSING))
        if runs and runs[-1].status == status and runs[-1].end + ONE_DAY == day:
            runs[-1] = Run(runs[-1].start, day, status)
        else:
            runs.append(Run(day, day, status))
    return runs


def _per_service(days: pa.Table) -> Iterator[tuple[tuple[str, str], list[Run]]]:
    ordered = days.sort_by([("account_id", "ascending"), ("service_id", "ascending"),
                            ("date", "ascending")])
    rows = zip(ordered["account_id"].to_pylist(), ordered["service_id"].to_pylist(),
               ordered["date"].to_pylist(), ordered["not_final"].to_pylist(), strict=True)
    key: tuple[str, str] | None = None
    pairs: list[tuple[datetime.date, bool]] = []
    for account_id, service_id, day, is_not_final in rows:
        if (account_id, service_id) != key:
            if key is not None:
                yield key, _runs(pairs)
            key, pairs = (account_id, service_id), []
        pairs.append((day, bool(is_not_final)))
    if key is not None:
        yield key, _runs(pairs)


def vendor_coverage(
    name: str,
    days: pa.Table,
    *,
    failures: list[Failure],
    listed_services: set[tuple[str, str]],
    summaries: list[tuple[str, str]],
) -> VendorCoverage:
    """Coverage of one vendor from its per-day table and its last run's failures."""
    services = {key: ServiceCoverage(*key, runs) for key, runs in _per_service(days)}
    known = set(services) | listed_services | {
        (f.context["account_id"], f.context["service_id"])
        for f in failures if {"account_id", "service_id"} <= f.context.keys()
    }
    placed: set[int] = set()
    for key in sorted(known):
        matching = [(i, f) for i, f in enumerate(failures) if f.covers(*key)]
        if not matching:
            continue
        placed.update(i for i, _ in matching)
        service = services.setdefault(key, ServiceCoverage(*key, []))
        service.failures = [f for _, f in matching]
    coverage = VendorCoverage(
        name, sorted(services.values(), key=lambda s: (s.account_id, s.service_id)),
        summaries, failures, [f for i, f in enumerate(failures) if i not in placed],
    )
    _extend_failed(coverage)
    return coverage


def _extend_failed(coverage: VendorCoverage) -> None:
    """A failed service is expected up to the vendor's last day (from its first day, or
    the vendor's first if it never landed one)."""
    first, last = coverage.first, coverage.last
    if first is None or last is None:
        return
    for service in coverage.services:
        if not service.failures:
            continue
        end = service.runs[-1].end if service.runs else first - ONE_DAY
        if end < last:
            service.runs.append(Run(end + ONE_DAY, last, MISSING, after_failure=True))
