"""singer_fanout.record_check: what a wrong record is, and how the error says it (no HTTP here)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from singer_fanout.errors import PartitionError
from singer_fanout.record_check import RecordCheck, check_records
from tap_vendorx.tap import TapVendorX
from tap_vendory.tap import TapVendorY

X_METRIC = {
    "account_id": "acc_1", "service_id": "svc_2", "date": "2026-11-01", "requests": 1200,
    "bandwidth_bytes": 3_000_000, "errors_5xx": 3, "cache_hit_ratio": 0.93,
    "p95_latency_ms": 120.5, "is_final": True, "updated_at": "2026-11-02T03:04:05Z",
}
Y_METRIC = {
    "account_id": "o-1", "service_id": "a-2", "date": "2026-11-01",
    "requests": Decimal("812.50"), "egress": Decimal("1.25"), "compute_seconds": Decimal(3),
    "hours_reported": 24, "missing_hours": [], "incomplete": False, "estimated": True,
    "revision": 3,
}
CONTEXT = {"account_id": "acc_1", "service_id": "svc_2"}


@pytest.fixture(scope="module")
def x_metrics():
    return TapVendorX(config={"api_token": "t" * 16}, parse_env_config=False).streams["metrics"]


@pytest.fixture(scope="module")
def y_metrics():
    return TapVendorY(config={"api_key": "k" * 16}, parse_env_config=False).streams["metrics"]


def test_records_as_the_taps_make_them_pass(x_metrics, y_metrics):
    check_records(x_metrics, CONTEXT, [dict(X_METRIC), {**X_METRIC, "requests": None}])
    check_records(y_metrics, CONTEXT, [dict(Y_METRIC)])


def test_a_wrong_type_names_field_type_value_and_partition(x_metrics):
    with pytest.raises(PartitionError) as caught:
        check_records(x_metrics, CONTEXT, [dict(X_METRIC), {**X_METRIC, "requests": "1234"}])
    message = str(caught.value)
    assert "tap-vendorx stream 'metrics' account_id=acc_1 service_id=svc_2" in message
    assert "date=2026-11-01" in message  # the record's own key: the day
    assert "field 'requests' should be integer or null, got str '1234'" in message


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"is_final": "false"}, "field 'is_final' should be boolean or null, got str 'false'"),
        ({"requests": True}, "field 'requests' should be integer or null, got bool True"),
        ({"cache_hit_ratio": float("nan")}, "field 'cache_hit_ratio' should be a finite number"),
        ({"date": "2026-02-30"}, "field 'date' should be a date string, got '2026-02-30'"),
        ({"updated_at": "yesterday"}, "field 'updated_at' should be a date-time string"),
        ({"service_id": 7}, "field 'service_id' should be string, got int 7"),
    ],
)
def test_each_kind_of_wrong_value_is_refused(x_metrics, change, problem):
    check = RecordCheck("metrics", x_metrics.schema)
    assert problem in (check.problem({**X_METRIC, **change}) or "")


def test_what_is_allowed(x_metrics, y_metrics):
    check = RecordCheck("metrics", x_metrics.schema)
    assert check.problem({**X_METRIC, "requests": 1200.0}) is None  # a whole number
    assert check.problem({**X_METRIC, "brand_new_field": object()}) is None  # SDK drops it
    missing = dict(X_METRIC)
    del missing["date"]
    assert check.problem(missing) == "required field 'date' is missing"
    y_check = RecordCheck("metrics", y_metrics.schema)
    assert y_check.problem({**Y_METRIC, "requests": Decimal("Infinity")}) is not None
    assert y_check.problem({**Y_METRIC, "missing_hours": {"not": "a list"}}) is not None


def test_context_keys_count_as_present(x_metrics):
    record = {k: v for k, v in X_METRIC.items() if k not in CONTEXT}
    check_records(x_metrics, CONTEXT, [record])  # the engine adds them from the context
    with pytest.raises(PartitionError, match="required field 'account_id' is missing"):
        check_records(x_metrics, {}, [record])


def test_a_huge_value_is_shortened_in_the_message(x_metrics):
    problem = RecordCheck("metrics", x_metrics.schema).problem({**X_METRIC, "requests": "9" * 5000})
    assert problem is not None
    assert len(problem) < 200


def test_the_check_is_compiled_once_per_stream(x_metrics):
    check_records(x_metrics, CONTEXT, [dict(X_METRIC)])
    compiled = x_metrics.__dict__["_tapkit_record_check"]
    check_records(x_metrics, CONTEXT, [dict(X_METRIC)])
    assert x_metrics.__dict__["_tapkit_record_check"] is compiled
