"""VendorY contract: API key (403), cursors, usage windows, late hours and restatements."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest

from vendor_sandbox import truth_records

from .helpers import TODAY, Y_APPS, Y_ORGS, Y_USAGE, epoch, session, y_day, y_list

DAY = datetime.timedelta(days=1)
NOW = epoch(TODAY)


def live_app(box) -> dict[str, str]:
    for record in truth_records(box.config):
        if record["type"] == "service" and not record["data"]["archived"]:
            created = record["data"]["created_ts"]
            if created < NOW - 10 * 86400:
                return {"org_id": record["account_id"], "app_id": record["service_id"]}
    raise AssertionError("no long-lived app")


def usage(box, app: dict[str, str], start_ts: Any, end_ts: Any, **params: Any):
    query = {"start_ts": start_ts, "end_ts": end_ts, **params}
    return session("y").get(box.url + Y_USAGE.format(**app), params=query, timeout=10)


@pytest.mark.parametrize("key", [None, "", "wrong"])
def test_missing_or_wrong_key_is_403_with_the_errors_body(y_box, key) -> None:
    response = session("y").get(y_box.url + Y_ORGS, headers={"X-Api-Key": key}, timeout=10)
    assert response.status_code == 403
    assert response.json() == {
        "errors": [{"code": "forbidden", "detail": "missing or invalid X-Api-Key"}]
    }


def test_cursor_pages_cover_every_item_exactly_once(start) -> None:
    box = start("y", accounts=17, rate_limit=10_000)
    http = session("y")
    truth = list(truth_records(box.config))
    orgs = [r["data"] for r in truth if r["type"] == "account"]
    for limit in (1, 4, 17, 200):
        assert y_list(http, box.url + Y_ORGS, limit=limit) == orgs
    org = next(r["account_id"] for r in truth if r["type"] == "service")
    apps = [r["data"] for r in truth if r["type"] == "service" and r["account_id"] == org]
    for limit in (1, 2):
        assert y_list(http, box.url + Y_APPS.format(org_id=org), limit=limit) == apps


def test_usage_rows_paginate_and_sum_to_the_same_day(y_box) -> None:
    app = live_app(y_box)
    ids = {"account_id": app["org_id"], "service_id": app["app_id"]}
    day = TODAY - 5 * DAY
    whole = y_day(session("y"), y_box.url, ids, day, limit=200)
    for limit in (1, 7, 100):
        assert y_day(session("y"), y_box.url, ids, day, limit=limit) == whole
    rows = usage(y_box, app, epoch(day), epoch(day) + 86400, limit=200).json()["items"]
    assert len(rows) == 72
    assert [(r["ts"], r["metric"]) for r in rows] == sorted((r["ts"], r["metric"]) for r in rows)


@pytest.mark.parametrize("params", [{"limit": 201}, {"limit": 0}, {"limit": "ten"}])
def test_bad_limit_is_invalid_parameter(y_box, params) -> None:
    response = session("y").get(y_box.url + Y_ORGS, params=params, timeout=10)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_parameter"


def test_a_smaller_server_max_clamps_pages(start) -> None:
    box = start("y", accounts=5, max_page_size=2)
    body = session("y").get(box.url + Y_ORGS, params={"limit": 200}, timeout=10).json()
    assert len(body["items"]) == 2
    assert body["next_cursor"]


def test_cursor_is_refused_when_expired_foreign_or_forged(start) -> None:
    box = start("y", accounts=6, cursor_ttl_s=0.3)
    http = session("y")
    first = http.get(box.url + Y_ORGS, params={"limit": 2}, timeout=10).json()
    org = first["items"][0]["org_id"]
    # The page size may change between pages: the cursor is an offset.
    assert http.get(
        box.url + Y_ORGS, params={"limit": 3, "cursor": first["next_cursor"]}, timeout=10
    ).ok
    foreign = http.get(
        box.url + Y_APPS.format(org_id=org), params={"cursor": first["next_cursor"]}, timeout=10
    )
    forged = http.get(
        box.url + Y_ORGS, params={"cursor": first["next_cursor"][:-2] + "AA"}, timeout=10
    )
    garbage = http.get(box.url + Y_ORGS, params={"cursor": "%%%not-base64"}, timeout=10)
    time.sleep(0.4)
    expired = http.get(
        box.url + Y_ORGS, params={"limit": 2, "cursor": first["next_cursor"]}, timeout=10
    )
    for response, detail in (
        (foreign, "different query"),
        (forged, "malformed"),
        (garbage, "malformed"),
        (expired, "expired"),
    ):
        assert response.status_code == 400
        error = response.json()["errors"][0]
        assert error["code"] == "invalid_cursor"
        assert detail in error["detail"]


def test_usage_cursor_is_bound_to_the_window(y_box) -> None:
    app = live_app(y_box)
    start_ts = NOW - 3 * 86400
    page = usage(y_box, app, start_ts, start_ts + 86400, limit=10).json()
    moved = usage(
        y_box, app, start_ts + 3600, start_ts + 86400, limit=10, cursor=page["next_cursor"]
    )
    assert moved.status_code == 400
    assert moved.json()["errors"][0]["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    ("start_ts", "end_ts", "status", "code"),
    [
        (NOW - 86400, NOW, 200, None),
        (NOW - 86401, NOW, 400, "range_too_large"),
        (NOW - 3600, NOW - 7200, 422, "invalid_range"),
        (NOW - 3600, NOW - 3600, 422, "invalid_range"),
        (NOW - 3600, NOW + 3600, 422, "invalid_range"),  # 'now' is today 00:00 UTC
        (NOW - 395 * 86400 - 1, NOW - 395 * 86400 + 3600, 410, "data_expired"),
        (NOW - 395 * 86400, NOW - 394 * 86400, 200, None),
        ("1.5", NOW, 400, "invalid_parameter"),
        ("", NOW, 400, "invalid_parameter"),
        ("-5", NOW, 400, "invalid_parameter"),
    ],
)
def test_usage_window_rules(y_box, start_ts, end_ts, status, code) -> None:
    response = usage(y_box, live_app(y_box), start_ts, end_ts)
    assert response.status_code == status, response.text
    if code:
        assert response.json()["errors"][0]["code"] == code


def test_unknown_org_or_app_is_404(y_box) -> None:
    app = live_app(y_box)
    other = next(
        r
        for r in truth_records(y_box.config)
        if r["type"] == "service" and r["account_id"] != app["org_id"]
    )
    for ids in (
        {"org_id": "o-zzzz", "app_id": app["app_id"]},
        {"org_id": app["org_id"], "app_id": "a-999"},
        {"org_id": app["org_id"], "app_id": other["service_id"]},
    ):
        response = usage(y_box, ids, NOW - 86400, NOW)
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "not_found"


def test_late_hours_are_reported_missing_until_they_arrive(start) -> None:
    box = start("y", accounts=6, world_date=TODAY, rate_limit=10_000)
    apps = [
        r for r in truth_records(box.config) if r["type"] == "service" and not r["data"]["archived"]
    ]
    seen_missing = False
    for app in apps:
        ids = {"org_id": app["account_id"], "app_id": app["service_id"]}
        body = usage(box, ids, NOW - 86400, NOW, limit=200).json()
        assert body["incomplete"] == bool(body["missing_hours"])
        present = {row["ts"] for row in body["items"]}
        assert not present & set(body["missing_hours"])
        assert all(NOW - 86400 <= hour < NOW for hour in body["missing_hours"])
        seen_missing |= body["incomplete"]
    assert seen_missing  # with ~10% late hours some of yesterday is still missing
    box.update(today=TODAY + 2 * DAY)
    for app in apps:
        ids = {"org_id": app["account_id"], "app_id": app["service_id"]}
        body = usage(box, ids, NOW - 86400, NOW, limit=200).json()
        assert body["incomplete"] is False
        assert body["missing_hours"] == []


def test_values_are_restated_for_seven_days(start) -> None:
    box = start("y", accounts=3, revision_rate=1.0, world_date=TODAY)
    app = live_app(box)

    def day_rows(day: datetime.date) -> list[dict]:
        return usage(box, app, epoch(day), epoch(day) + 86400, limit=200).json()["items"]

    recent, old = TODAY - 3 * DAY, TODAY - 8 * DAY
    recent_before, old_before = day_rows(recent), day_rows(old)
    assert {(r["revision"], r["estimated"]) for r in recent_before} == {(3, True)}
    assert {(r["revision"], r["estimated"]) for r in old_before} == {(7, False)}
    box.update(today=TODAY + DAY)
    recent_after = day_rows(recent)
    assert {(r["revision"], r["estimated"]) for r in recent_after} == {(4, True)}
    assert [r["value"] for r in recent_after] != [r["value"] for r in recent_before]
    assert day_rows(old) == old_before
    box.update(today=TODAY + 4 * DAY)
    assert {(r["revision"], r["estimated"]) for r in day_rows(recent)} == {(7, False)}
