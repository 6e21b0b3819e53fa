"""Compare what a tap emitted with the sandbox's ground truth, key by key."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from vendor_sandbox import SandboxConfig, truth_records

Key = tuple[str, ...]
Y_SUMS = ("requests", "egress", "compute_seconds")
Y_FLAGS = ("hours_reported", "missing_hours", "estimated", "revision")


def expected(config: SandboxConfig, first: dt.date, last: dt.date) -> dict[str, dict[Key, Any]]:
    """Truth as the taps would emit it: per stream, key -> comparable values."""
    out: dict[str, dict[Key, Any]] = {"accounts": {}, "services": {}, "metrics": {}}
    for line in truth_records(config):
        if line["type"] == "account":
            out["accounts"][(line["account_id"],)] = line["data"]
        elif line["type"] == "service":
            out["services"][(line["account_id"], line["service_id"])] = line["data"]
        elif first.isoformat() <= line["date"] <= last.isoformat():
            key = (line["account_id"], line["service_id"], line["date"])
            out["metrics"][key] = comparable_metric(config.vendor, line["data"])
    return out


Z_FIELDS = ("requests", "cost_usd", "final")


def comparable_metric(vendor: str, values: dict[str, Any]) -> dict[str, Any]:
    if vendor == "x":
        return {k: v for k, v in values.items() if k not in ("date", "service_id")}
    if vendor == "z":
        return {name: values.get(name) for name in Z_FIELDS}
    result: dict[str, Any] = {name: Decimal(str(values[name])) for name in Y_SUMS}
    result.update({name: values[name] for name in Y_FLAGS})
    return result


def latest_per_key(records: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[Key, dict]:
    """The last record emitted for each key: lookback re-emits may repeat a key."""
    latest: dict[Key, dict] = {}
    for record in records:
        latest[tuple(record[k] for k in keys)] = record
    return latest


def emitted(vendor: str, records: dict[str, list[dict]]) -> dict[str, dict[Key, Any]]:
    metrics = latest_per_key(records.get("metrics", []), ("account_id", "service_id", "date"))
    x_fields = ("requests", "bandwidth_bytes", "errors_5xx", "cache_hit_ratio", "p95_latency_ms",
                "is_final", "updated_at")
    return {
        "accounts": latest_per_key(records.get("accounts", []), ("account_id",)),
        "services": latest_per_key(records.get("services", []), ("account_id", "service_id")),
        "metrics": {
            key: (
                {f: rec.get(f) for f in x_fields} if vendor == "x"
                else comparable_metric(vendor, rec)
            )
            for key, rec in metrics.items()
        },
    }


def assert_matches_truth(vendor: str, records: dict[str, list[dict]], truth: dict) -> None:
    got = emitted(vendor, records)
    assert set(got["accounts"]) == set(truth["accounts"])
    assert set(got["services"]) == set(truth["services"])
    missing = set(truth["metrics"]) - set(got["metrics"])
    extra = set(got["metrics"]) - set(truth["metrics"])
    assert not missing, f"{len(missing)} metric keys missing, e.g. {sorted(missing)[:3]}"
    assert not extra, f"{len(extra)} unexpected metric keys, e.g. {sorted(extra)[:3]}"
    wrong = [k for k in truth["metrics"] if got["metrics"][k] != truth["metrics"][k]]
    assert not wrong, (
        f"{len(wrong)} metric values differ, e.g. {wrong[0]}: "
        f"got {got['metrics'][wrong[0]]} expected {truth['metrics'][wrong[0]]}"
    )
