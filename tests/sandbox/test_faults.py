"""Injected faults: rates, reproducibility, each kind's wire shape, always-failing ids."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from vendor_sandbox import truth_records

from .helpers import (
    TODAY,
    X_ACCOUNTS,
    X_METRICS,
    X_SERVICES,
    Y_APPS,
    Y_ORGS,
    Y_USAGE,
    epoch,
    session,
)

NOW = epoch(TODAY)


def first_service(box) -> dict[str, str]:
    record = next(r for r in truth_records(box.config) if r["type"] == "service")
    return {"account_id": record["account_id"], "service_id": record["service_id"]}


def test_x_fault_rates_are_close_to_configured(start) -> None:
    box = start("x", error_5xx_rate=0.10, retry_after_503_rate=0.05, rate_limit=100_000)
    http = session("x")
    statuses = [
        http.get(box.url + X_ACCOUNTS, params={"per_page": 1 + i % 3}, timeout=10)
        for i in range(2000)
    ]
    faults = box.stats()["faults"]
    assert abs(faults["error_5xx"] / 2000 - 0.10) < 0.03
    assert abs(faults["retry_after_503"] / 2000 - 0.05) < 0.02
    with_retry_after = [r for r in statuses if "Retry-After" in r.headers]
    assert len(with_retry_after) == faults["retry_after_503"]
    assert {r.status_code for r in with_retry_after} == {503}
    assert {r.headers["Retry-After"] for r in with_retry_after} == {"1"}
    errors = [r for r in statuses if r.status_code >= 500 and "Retry-After" not in r.headers]
    assert len(errors) == faults["error_5xx"]
    assert {r.status_code for r in errors} == {500, 502, 503}
    assert all(r.json()["error"]["code"] for r in errors)


def test_y_fault_rates_are_close_to_configured(start) -> None:
    box = start(
        "y", accounts=1, services_per_account=(1, 1), error_5xx_rate=0.1, html_502_rate=0.1,
        partial_200_rate=0.1, rate_limit=100_000,
    )  # fmt: skip
    http = session("y")
    app = first_service(box)
    url = box.url + Y_USAGE.format(org_id=app["account_id"], app_id=app["service_id"])
    kinds = {"json_500": 0, "html": 0, "partial": 0, "ok": 0}
    for i in range(2000):
        day = NOW - 86400 * (2 + i % 40)
        response = http.get(url, params={"start_ts": day, "end_ts": day + 86400}, timeout=10)
        if response.status_code == 500:
            kinds["json_500"] += 1
            assert response.json()["errors"][0]["code"] == "internal_error"
        elif response.status_code in (502, 503):
            kinds["html"] += 1
            assert response.headers["Content-Type"].startswith("text/html")
            assert response.text.lstrip().startswith("<html>")
        elif "errors" in response.json():
            kinds["partial"] += 1
            body = response.json()
            assert body["errors"][0]["code"] == "shard_unavailable"
            assert len(body["items"]) < 72
        else:
            kinds["ok"] += 1
    for kind in ("json_500", "html", "partial"):
        assert abs(kinds[kind] / 2000 - 0.1) < 0.03, kinds
    faults = box.stats()["faults"]
    assert (faults["error_5xx"], faults["html_502"], faults["partial_200"]) == (
        kinds["json_500"],
        kinds["html"],
        kinds["partial"],
    )


def _statuses(box, vendor: str, paths: list[str]) -> list[int]:
    http = session(vendor)
    return [http.get(box.url + path, timeout=10).status_code for path in paths]


def test_faults_are_reproducible_from_the_seed(start) -> None:
    paths = [f"{X_ACCOUNTS}?per_page={1 + i % 5}" for i in range(200)]
    knobs = {"error_5xx_rate": 0.2, "retry_after_503_rate": 0.1, "rate_limit": 100_000}
    first = _statuses(start("x", seed=5, **knobs), "x", paths)
    again = _statuses(start("x", seed=5, **knobs), "x", paths)
    other = _statuses(start("x", seed=6, **knobs), "x", paths)
    assert first == again
    assert first != other
    # Concurrent clients see the same faults: each request's n-th sighting gets the same
    # answer whatever the arrival order, so the outcomes per request are the same multiset.
    box = start("x", seed=5, **knobs)
    with ThreadPoolExecutor(8) as pool:
        concurrent = list(
            pool.map(lambda p: session("x").get(box.url + p, timeout=10).status_code, paths)
        )
    assert Counter(zip(paths, concurrent, strict=True)) == Counter(zip(paths, first, strict=True))


def test_a_retried_request_eventually_passes(start) -> None:
    box = start("x", error_5xx_rate=0.7, rate_limit=100_000)
    http = session("x")
    for per_page in range(1, 11):
        for _attempt in range(40):
            if http.get(box.url + X_ACCOUNTS, params={"per_page": per_page}, timeout=10).ok:
                break
        else:
            pytest.fail("a retried request never passed")


def test_clearing_faults_live(start) -> None:
    box = start("x", error_5xx_rate=1.0)
    http = session("x")
    assert http.get(box.url + X_ACCOUNTS, timeout=10).status_code >= 500
    box.update(error_5xx_rate=0.0)
    assert http.get(box.url + X_ACCOUNTS, timeout=10).status_code == 200


def test_stall_delays_x_and_times_out_y(start) -> None:
    x = start("x", stall_rate=1.0, stall_s=0.3)
    began = time.monotonic()
    response = session("x").get(x.url + X_ACCOUNTS, timeout=10)
    assert response.status_code == 200
    assert time.monotonic() - began >= 0.3
    y = start("y", stall_rate=1.0, stall_s=0.3)
    response = session("y").get(y.url + Y_ORGS, timeout=10)
    assert response.status_code == 504
    assert response.headers["Content-Type"].startswith("text/html")
    with pytest.raises(requests.Timeout):
        session("y").get(y.url + Y_ORGS, timeout=0.1)
    assert y.stats()["faults"]["stall"] >= 2


def test_expired_cursor_fault_only_hits_requests_with_a_cursor(start) -> None:
    box = start("y", accounts=4, expired_cursor_rate=1.0)
    http = session("y")
    first = http.get(box.url + Y_ORGS, params={"limit": 2}, timeout=10)
    assert first.status_code == 200
    second = http.get(
        box.url + Y_ORGS, params={"limit": 2, "cursor": first.json()["next_cursor"]}, timeout=10
    )
    assert second.status_code == 400
    assert second.json()["errors"][0]["code"] == "invalid_cursor"
    assert box.stats()["faults"]["expired_cursor"] == 1


def test_fail_services_and_fail_accounts_always_answer_500(start) -> None:
    probe = start("x", accounts=3)
    records = [r for r in truth_records(probe.config) if r["type"] == "service"]
    failing, healthy = (
        records[0],
        next(r for r in records if r["account_id"] != records[0]["account_id"]),
    )
    box = start(
        "x",
        accounts=3,
        fail_services=frozenset({failing["service_id"]}),
        fail_accounts=frozenset({healthy["account_id"]}),
    )
    http = session("x")
    window = {"start_date": "2026-11-01", "end_date": "2026-11-02"}
    for _ in range(3):
        bad_service = http.get(box.url + X_METRICS.format(**failing), params=window, timeout=10)
        assert bad_service.status_code == 500
        assert bad_service.json()["error"]["code"] == "internal_error"
        assert (
            http.get(
                box.url + X_SERVICES.format(account_id=healthy["account_id"]), timeout=10
            ).status_code
            == 500
        )
        ids = {"account_id": healthy["account_id"], "service_id": healthy["service_id"]}
        assert (
            http.get(box.url + X_METRICS.format(**ids), params=window, timeout=10).status_code
            == 500
        )
    assert http.get(box.url + X_SERVICES.format(account_id=failing["account_id"]), timeout=10).ok
    assert http.get(box.url + X_ACCOUNTS, timeout=10).ok
    faults = box.stats()["faults"]
    assert (faults["fail_service"], faults["fail_account"]) == (3, 6)


def test_y_fail_accounts_covers_apps_and_usage(start) -> None:
    probe = start("y", accounts=2)
    record = next(r for r in truth_records(probe.config) if r["type"] == "service")
    box = start("y", accounts=2, fail_accounts=frozenset({record["account_id"]}))
    http = session("y")
    assert (
        http.get(box.url + Y_APPS.format(org_id=record["account_id"]), timeout=10).status_code
        == 500
    )
    url = box.url + Y_USAGE.format(org_id=record["account_id"], app_id=record["service_id"])
    assert (
        http.get(url, params={"start_ts": NOW - 86400, "end_ts": NOW}, timeout=10).status_code
        == 500
    )
