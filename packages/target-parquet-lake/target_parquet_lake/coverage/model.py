"""Each service's days as runs of one status: final, not final, missing.

A service is expected to have every day from its first to its last day in the lake (a
service starts and stops when it starts and stops; the lake cannot know more without
naming vendors). When the last run summary says its partition failed, the service is also
expected up to the vendor's last day: the days the failure kept out are missing.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

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


def _run_starts(ordered: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Row indices where a run starts (a new service, a day skipped, a status change), and
    whether each such row starts a new service. Vectorised: a lake has millions of days but
    only a few runs per service."""
    rows = ordered.num_rows
    if rows == 1:
        return pa.array([0], pa.uint64()), pa.array([True])
    account, service = ordered["account_id"], ordered["service_id"]
    day = pc.cast(ordered["date"], pa.int32())
    status = ordered["not_final"]
    head, tail = slice(1, rows), slice(0, rows - 1)

    def shifted(values: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
        return values[head], values[tail]

    same_service = pc.and_(pc.equal(*shifted(account)), pc.equal(*shifted(service)))
    next_day = pc.equal(day[head], pc.add(day[tail], 1))
    same_status = pc.equal(*shifted(status))
    continues = pc.and_(same_service, pc.and_(next_day, same_status))
    # Row 0 starts the first run of the first service.
    breaks = pa.concat_arrays([pa.array([True]), pc.invert(continues).combine_chunks()])
    new_service = pa.concat_arrays([pa.array([True]), pc.invert(same_service).combine_chunks()])
    starts = pc.indices_nonzero(breaks)
    return starts, pc.take(new_service, starts)


def _per_service(days: pa.Table) -> Iterator[tuple[tuple[str, str], list[Run]]]:
    """Each service's runs, holes between its days included as missing runs."""
    if days.num_rows == 0:
        return
    ordered = days.sort_by([("account_id", "ascending"), ("service_id", "ascending"),
                            ("date", "ascending")])
    starts, new_service = _run_starts(ordered)
    ends = pc.subtract(pa.concat_arrays([starts[1:], pa.array([ordered.num_rows], pa.uint64())]),
                       1)
    accounts = ordered["account_id"].take(starts).to_pylist()
    services = ordered["service_id"].take(starts).to_pylist()
    first_days = ordered["date"].take(starts).to_pylist()
    last_days = ordered["date"].take(ends).to_pylist()
    statuses = ordered["not_final"].take(starts).to_pylist()
    key: tuple[str, str] | None = None
    runs: list[Run] = []
    for index, starts_service in enumerate(new_service.to_pylist()):
        if starts_service:
            if key is not None:
                yield key, runs
            key, runs = (accounts[index], services[index]), []
        elif runs[-1].end + ONE_DAY < first_days[index]:
            runs.append(Run(runs[-1].end + ONE_DAY, first_days[index] - ONE_DAY, MISSING))
        runs.append(Run(first_days[index], last_days[index],
                        NOT_FINAL if statuses[index] else FINAL))
    if key is not None:
        yield key, runs


def vendor_coverage(
    name: str,
    days: pa.Table,
    *,
    failures: list[Failure],
    summaries: list[tuple[str, str]],
    ended: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(),
) -> VendorCoverage:
    """Coverage of one vendor from its per-day table and its last run's failures."""
    services = {key: ServiceCoverage(*key, runs) for key, runs in _per_service(days)}
    # A failure that names a service places it even if it never landed a day; one that
    # names only an account covers the services of it that the lake has days of (a service
    # listed but without days may be long deleted: no failure kept its days out).
    known = set(services) | {
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
    _extend_failed(coverage, ended)
    return coverage


def _extend_failed(coverage: VendorCoverage, ended: set[tuple[str, str]] | frozenset) -> None:
    """A failed service is expected up to the vendor's last day (from its first day, or
    the vendor's first if it never landed one), unless the services stream says it ended."""
    first, last = coverage.first, coverage.last
    if first is None or last is None:
        return
    for service in coverage.services:
        if not service.failures or (service.account_id, service.service_id) in ended:
            continue
        end = service.runs[-1].end if service.runs else first - ONE_DAY
        if end < last:
            service.runs.append(Run(end + ONE_DAY, last, MISSING, after_failure=True))
