"""VendorX contract: bearer auth, page numbers, metrics windows, late revisions."""

from __future__ import annotations

import datetime

import pytest

from vendor_sandbox import truth_records

from .helpers import TODAY, X_ACCOUNTS, X_METRICS, X_SERVICES, session, x_list

DAY = datetime.timedelta(days=1)


def first_ids(box) -> dict[str, str]:
    for record in truth_records(box.config):
        if record["type"] == "service" and record["data"]["deleted_at"] is None:
            return {"account_id": record["account_id"], "service_id": record["service_id"]}
    raise AssertionError("no live service")


def metrics(box, ids: dict[str, str], start: object, end: object, http=None):
    http = http or session("x")
    return http.get(
        box.url + X_METRICS.format(**ids), params={"start_date": start, "end_date": end}, timeout=10
    )


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic sandbox-token"}]
)
def test_missing_or_wrong_token_is_401_with_the_error_body(x_box, headers) -> None:
    response = session("x").get(
        x_box.url + X_ACCOUNTS, headers={"Authorization": None, **headers}, timeout=10
    )
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "unauthorized"
    assert set(error) == {"code", "message", "request_id"}


def test_pages_cover_every_item_exactly_once(start) -> None:
    box = start("x", accounts=23, rate_limit=10_000)
    http = session("x")
    expected = [r["data"] for r in truth_records(box.config) if r["type"] == "account"]
    for per_page in (1, 2, 5, 7, 23, 100):
        assert x_list(http, box.url + X_ACCOUNTS, per_page) == expected
    account = expected[0]["id"]
    services = [
        r["data"]
        for r in truth_records(box.config)
        if r["type"] == "service" and r["account_id"] == account
    ]
    for per_page in (1, 3):
        assert x_list(http, box.url + X_SERVICES.format(account_id=account), per_page) == services


def test_page_meta_and_page_past_the_end(x_box) -> None:
    http = session("x")
    body = http.get(x_box.url + X_ACCOUNTS, params={"per_page": 2}, timeout=10).json()
    assert body["meta"] == {"page": 1, "per_page": 2, "total_count": 3, "total_pages": 2}
    past = http.get(x_box.url + X_ACCOUNTS, params={"page": 9, "per_page": 2}, timeout=10).json()
    assert past["data"] == []
    assert past["meta"]["total_count"] == 3


@pytest.mark.parametrize(
    "params", [{"per_page": 101}, {"per_page": 0}, {"page": 0}, {"page": "x"}, {"per_page": "-1"}]
)
def test_bad_paging_is_invalid_parameter(x_box, params) -> None:
    response = session("x").get(x_box.url + X_ACCOUNTS, params=params, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"


def test_a_smaller_server_max_clamps_pages(start) -> None:
    box = start("x", accounts=5, max_page_size=2)
    body = session("x").get(box.url + X_ACCOUNTS, params={"per_page": 100}, timeout=10).json()
    assert len(body["data"]) == 2
    assert body["meta"]["per_page"] == 2
    assert body["meta"]["total_pages"] == 3


def test_unknown_account_or_service_is_404(x_box) -> None:
    http = session("x")
    ids = first_ids(x_box)
    other = next(
        r
        for r in truth_records(x_box.config)
        if r["type"] == "service" and r["account_id"] != ids["account_id"]
    )
    for account, service in (
        ("acc_zzzz", ids["service_id"]),
        (ids["account_id"], "svc_999"),
        (ids["account_id"], other["service_id"]),
    ):
        response = metrics(
            x_box, {"account_id": account, "service_id": service}, TODAY - DAY, TODAY - DAY, http
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert (
        http.get(x_box.url + X_SERVICES.format(account_id="acc_zzzz"), timeout=10).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("start", "end", "status", "code"),
    [
        (TODAY - 31 * DAY, TODAY - DAY, 200, None),  # exactly 31 days
        (TODAY - 32 * DAY, TODAY - DAY, 400, "window_too_large"),
        (TODAY - DAY, TODAY - 2 * DAY, 422, "invalid_range"),
        (TODAY - 401 * DAY, TODAY - 390 * DAY, 400, "out_of_retention"),
        (TODAY - 400 * DAY, TODAY - 390 * DAY, 200, None),
        ("2026-02-30", TODAY, 400, "invalid_parameter"),
        ("20261101", TODAY, 400, "invalid_parameter"),
        ("", TODAY, 400, "invalid_parameter"),
    ],
)
def test_metrics_window_rules(x_box, start, end, status, code) -> None:
    response = metrics(x_box, first_ids(x_box), start, end)
    assert response.status_code == status, response.text
    if code:
        assert response.json()["error"]["code"] == code


def test_rows_stop_at_yesterday_even_when_end_is_in_the_future(x_box) -> None:
    body = metrics(x_box, first_ids(x_box), TODAY - 3 * DAY, TODAY + 20 * DAY).json()
    assert [row["date"] for row in body["data"]] == [str(TODAY - n * DAY) for n in (3, 2, 1)]
    assert body["granularity"] == "day"
    assert [row["is_final"] for row in body["data"]] == [False, False, False]


def test_days_before_creation_and_after_deletion_are_absent(start) -> None:
    box = start("x", accounts=20, deleted_service_rate=0.5, rate_limit=10_000)
    world_services = [r for r in truth_records(box.config) if r["type"] == "service"]
    late = next(
        r
        for r in world_services
        if r["data"]["created_at"][:10] > str(TODAY - 20 * DAY) and not r["data"]["deleted_at"]
    )
    gone = next(
        r
        for r in world_services
        if str(TODAY - 25 * DAY) < (r["data"]["deleted_at"] or "")[:10] < str(TODAY - 5 * DAY)
    )
    for record, first, last in (
        (late, late["data"]["created_at"][:10], str(TODAY - DAY)),
        (gone, None, gone["data"]["deleted_at"][:10]),
    ):
        ids = {"account_id": record["account_id"], "service_id": record["service_id"]}
        dates = [
            row["date"] for row in metrics(box, ids, TODAY - 30 * DAY, TODAY - DAY).json()["data"]
        ]
        assert dates
        if first:
            assert dates[0] == first
        assert dates[-1] == last


def test_late_days_are_revised_until_final(start) -> None:
    """Moving 'today' ages each day: D+1..D+3 revise (updated_at moves), D+4 on never change."""
    box = start("x", accounts=4, revision_rate=1.0, world_date=TODAY)
    ids = first_ids(box)
    window = (TODAY - 10 * DAY, TODAY - DAY)
    before = {row["date"]: row for row in metrics(box, ids, *window).json()["data"]}
    box.update(today=TODAY + DAY)
    after = {row["date"]: row for row in metrics(box, ids, *window).json()["data"]}
    assert before.keys() == after.keys()
    for date, old in before.items():
        age = (TODAY - datetime.date.fromisoformat(date)).days
        new = after[date]
        if age >= 4:  # already final
            assert new == old
        else:
            assert new["updated_at"] > old["updated_at"]
            assert new["requests"] > old["requests"]  # late logs arrived
            assert new["is_final"] == (age + 1 >= 4)
    box.update(today=TODAY + 2 * DAY, revision_rate=0.0)
    steady = {row["date"]: row for row in metrics(box, ids, *window).json()["data"]}
    box.update(today=TODAY + 3 * DAY)
    moved = {row["date"]: row for row in metrics(box, ids, *window).json()["data"]}
    changed = [d for d in steady if steady[d] != moved[d]]
    assert changed  # rows still inside the revision window get a new updated_at ...
    assert all(steady[d]["requests"] == moved[d]["requests"] for d in steady)  # ... not new values
