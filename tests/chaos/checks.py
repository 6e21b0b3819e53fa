"""Assertions against the sandbox's truth that every chaos test shares.

The truth comes from `vendor_sandbox.truth_records` (what the API serves without faults),
never from the tap's own output, so each check can fail.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from tests.tap_runner import TapRun
from tests.truth import Key, assert_matches_truth, expected
from vendor_sandbox import SandboxConfig
from vendor_sandbox.truth import day_finality
from vendor_sandbox.world import build_world

Truth = dict[str, dict[Key, Any]]
STREAM_KEYS = {
    "accounts": ("account_id",),
    "services": ("account_id", "service_id"),
    "metrics": ("account_id", "service_id", "date"),
}


def window(config: dict[str, Any]) -> tuple[dt.date, dt.date]:
    return dt.date.fromisoformat(config["start_date"]), dt.date.fromisoformat(config["end_date"])


def truth_of(sandbox: SandboxConfig, config: dict[str, Any]) -> Truth:
    truth = expected(sandbox, *window(config))
    assert truth["metrics"], "the sandbox serves no metrics here: the test would prove nothing"
    return truth


def without(truth: Truth, *, accounts: frozenset[str] | set[str] = frozenset(),
            services: frozenset[str] | set[str] = frozenset()) -> Truth:
    """Truth minus what a failed account listing or failed metrics partitions hide."""
    return {
        "accounts": dict(truth["accounts"]),
        "services": {k: v for k, v in truth["services"].items() if k[0] not in accounts},
        "metrics": {k: v for k, v in truth["metrics"].items()
                    if k[0] not in accounts and k[1] not in services},
    }


def union(*runs: TapRun) -> dict[str, list[dict[str, Any]]]:
    """Every record of the runs, in order: a later record of a key wins."""
    return {stream: [r for run in runs for r in run.records.get(stream, [])]
            for stream in STREAM_KEYS}


def keys(records: list[dict[str, Any]], stream: str) -> list[Key]:
    return [tuple(record[k] for k in STREAM_KEYS[stream]) for record in records]


def assert_each_key_once(run: TapRun) -> None:
    """Within one run nothing is emitted twice (re-emits come only from a later run)."""
    for stream in STREAM_KEYS:
        twice = [k for k, n in Counter(keys(run.records.get(stream, []), stream)).items()
                 if n > 1]
        assert not twice, f"{stream}: emitted twice in one run: {twice[:3]}"


def assert_lands(vendor: str, runs: list[TapRun], truth: Truth) -> None:
    assert_matches_truth(vendor, union(*runs), truth)


def bookmarks_in(state: dict[str, Any] | None) -> dict[tuple[str, str], str]:
    """(account, service) -> metrics bookmark, from a singer-sdk-shaped state."""
    partitions = (state or {}).get("bookmarks", {}).get("metrics", {}).get("partitions", [])
    return {(p["context"]["account_id"], p["context"]["service_id"]): p["replication_key_value"]
            for p in partitions}


def days_read_after(bookmark: str | None, vendor: str, start: dt.date, end: dt.date, *,
                    sandbox: SandboxConfig, service_id: str) -> int:
    """Days a run reads for a service bookmarked at `bookmark` (None: from start_date) by
    a run on the same "today" (0: none)."""
    # Days not final yet up to the bookmark, every day after it; none before the service
    # existed, none after a VendorX service's deletion day (a VendorZ project's archiving).
    service = build_world(sandbox, sandbox.resolved_today()).service_by_id[service_id]
    first = max(start, service.created_day)
    last = min(end, service.deleted_day) if vendor != "y" and service.deleted_day else end
    mark = dt.date.fromisoformat(bookmark) if bookmark else first - dt.timedelta(days=1)
    states = day_finality(sandbox)[service_id]
    unsettled = sum(1 for day, final in states.items() if first <= day <= mark and not final)
    return unsettled + max(0, (last - max(mark, first - dt.timedelta(days=1))).days)


def metric_keys_by_service(truth: Truth) -> dict[tuple[str, str], list[str]]:
    days: dict[tuple[str, str], list[str]] = {}
    for account, service, day in truth["metrics"]:
        days.setdefault((account, service), []).append(day)
    return days


def assert_states_never_ahead(runs: list[TapRun], truth: Truth, start: dt.date) -> None:
    """Every STATE, in every run of a chain, bookmarks only days already emitted.

    For each metrics bookmark (service, B) in a STATE line, every truth day of that service
    from start_date to B must have been printed before that line, by this run or an earlier
    run of the chain. Otherwise a run resumed from that STATE would skip those days.
    """
    by_service = metric_keys_by_service(truth)
    emitted: set[Key] = set()
    checked = 0
    for run in runs:
        for message in run.messages:
            if message["type"] == "RECORD" and message["stream"] == "metrics":
                emitted.add(tuple(message["record"][k] for k in STREAM_KEYS["metrics"]))
            elif message["type"] == "STATE":
                partitions = (message["value"].get("bookmarks", {}).get("metrics", {})
                              .get("partitions", []))
                for partition in partitions:
                    ids = (partition["context"]["account_id"], partition["context"]["service_id"])
                    bookmark = partition["replication_key_value"]
                    owed = {(*ids, day) for day in by_service.get(ids, [])
                            if start.isoformat() <= day <= bookmark}
                    missing = owed - emitted
                    assert not missing, (
                        f"a STATE bookmarks {ids} at {bookmark} but these days were never "
                        f"emitted before it: {sorted(missing)[:3]}"
                    )
                    checked += 1
    assert checked, "no STATE with a metrics bookmark was seen: nothing was checked"


def the_metrics_failure(summary: dict[str, Any], account: str, service: str) -> dict[str, Any]:
    """The one summary failure of a service's metrics partition."""
    found = [f for f in summary["streams"]["metrics"]["failures"]
             if f["context"] == {"account_id": account, "service_id": service}]
    assert len(found) == 1, f"expected one failure of {service}, got {found}"
    return found[0]
