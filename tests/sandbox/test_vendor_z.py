"""VendorZ contract: OAuth2 tokens, Link pages, asynchronous CSV reports, idempotency, 429s."""

from __future__ import annotations

import datetime
import email.utils
import time

import pytest
import requests

from vendor_sandbox import truth_records

from .helpers import (
    TODAY,
    TOKEN,
    Z_DOWNLOAD,
    Z_PROJECTS,
    Z_REPORT,
    Z_REPORTS,
    Z_TOKEN,
    Z_WORKSPACES,
    session,
    z_list,
    z_report,
)  # fmt: skip

DAY = datetime.timedelta(days=1)


def first_ids(box) -> dict[str, str]:
    for record in truth_records(box.config):
        if record["type"] == "service" and record["data"]["archived_at"] is None:
            return {"account_id": record["account_id"], "service_id": record["service_id"]}
    raise AssertionError("no live project")


def reports_url(box, ids: dict[str, str]) -> str:
    return box.url + Z_REPORTS.format(workspace_id=ids["account_id"], project_id=ids["service_id"])


@pytest.mark.parametrize(
    ("form", "status", "code"),
    [
        ({"grant_type": "client_credentials", "client_id": "sandbox-client",
          "client_secret": "wrong"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "other",
          "client_secret": TOKEN}, 401, "invalid_client"),
        ({"grant_type": "password", "client_id": "sandbox-client",
          "client_secret": TOKEN}, 400, "unsupported_grant_type"),
    ],
)  # fmt: skip
def test_token_endpoint_refuses_wrong_clients(start, form, status, code) -> None:
    box = start("z")
    response = requests.post(box.url + Z_TOKEN, data=form, timeout=10)
    assert response.status_code == status
    assert response.json() == {"error": code, "message": response.json()["message"]}


def test_tokens_expire_and_can_be_revoked(start) -> None:
    box = start("z", token_ttl_s=0.4)
    http = session("z", base=box.url)
    assert http.get(box.url + Z_WORKSPACES, timeout=10).status_code == 200
    time.sleep(0.45)
    expired = http.get(box.url + Z_WORKSPACES, timeout=10)
    assert expired.status_code == 401
    assert expired.json()["error"] == "invalid_token"
    assert expired.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    box.update(token_ttl_s=3600)
    http = session("z", base=box.url)
    assert http.get(box.url + Z_WORKSPACES, timeout=10).status_code == 200
    box.revoke_tokens()
    assert http.get(box.url + Z_WORKSPACES, timeout=10).status_code == 401
    assert session("z", base=box.url).get(box.url + Z_WORKSPACES, timeout=10).status_code == 200
    events = box.stats()["events"]
    assert events["tokens_issued"] == 3
    assert events["invalid_token"] == 2


def test_link_pages_cover_every_item_exactly_once(start) -> None:
    box = start("z", accounts=23, rate_limit=10_000)
    http = session("z", base=box.url)
    expected = [r["data"] for r in truth_records(box.config) if r["type"] == "account"]
    for per_page in (1, 2, 7, 23, 100):
        assert z_list(http, box.url + Z_WORKSPACES, per_page) == expected
    last = http.get(box.url + Z_WORKSPACES, params={"per_page": 23}, timeout=10)
    assert "Link" not in last.headers
    first = http.get(box.url + Z_WORKSPACES, params={"per_page": 5}, timeout=10)
    assert first.links["next"]["url"].startswith(box.url + Z_WORKSPACES + "?")
    too_big = http.get(box.url + Z_WORKSPACES, params={"per_page": 101}, timeout=10)
    assert too_big.status_code == 400
    assert too_big.json()["error"] == "invalid_parameter"
    account = expected[0]["id"]
    projects = [r["data"] for r in truth_records(box.config)
                if r["type"] == "service" and r["account_id"] == account]
    assert z_list(http, box.url + Z_PROJECTS.format(workspace_id=account), 1) == projects


def test_a_report_is_pending_then_ready_then_expires(start) -> None:
    box = start("z", report_delay_s=0.3, report_ttl_s=0.5)
    http = session("z", base=box.url)
    ids = first_ids(box)
    created = http.post(reports_url(box, ids), json={"from": str(TODAY - 5 * DAY),
                                                     "to": str(TODAY - DAY)}, timeout=10)
    assert created.status_code == 202
    assert created.json()["status"] == "pending"
    report_id = created.json()["report_id"]
    status = box.url + Z_REPORT.format(report_id=report_id)
    download = box.url + Z_DOWNLOAD.format(report_id=report_id)
    assert http.get(status, timeout=10).json() == {"report_id": report_id, "status": "pending"}
    assert http.get(download, timeout=10).status_code == 409
    time.sleep(0.35)
    ready = http.get(status, timeout=10).json()
    assert ready == {"report_id": report_id, "status": "ready",
                     "download_url": Z_DOWNLOAD.format(report_id=report_id)}
    answer = http.get(download, timeout=10)
    assert answer.headers["Content-Type"].startswith("text/csv")
    lines = answer.text.splitlines()
    assert lines[0] == "date,requests,cost_usd,final"
    assert [line.split(",")[0] for line in lines[1:]] == [
        str(TODAY - back * DAY) for back in range(5, 0, -1)
    ]
    time.sleep(0.5)
    for url in (status, download):
        gone = http.get(url, timeout=10)
        assert gone.status_code == 410
        assert gone.json()["error"] == "report_expired"
    assert box.stats()["gauges"]["reports_outstanding"] == {"now": 0, "max": 1}


def test_a_failed_report_says_so(start) -> None:
    box = start("z", report_delay_s=0.0, failed_report_rate=1.0)
    http = session("z", base=box.url)
    created = http.post(reports_url(box, first_ids(box)),
                        json={"from": str(TODAY - DAY), "to": str(TODAY - DAY)}, timeout=10)
    report_id = created.json()["report_id"]
    status = http.get(box.url + Z_REPORT.format(report_id=report_id), timeout=10).json()
    assert status == {"report_id": report_id, "status": "failed",
                      "error": "report_generation_failed"}
    assert http.get(box.url + Z_DOWNLOAD.format(report_id=report_id), timeout=10).status_code == 409


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"from": str(TODAY - DAY), "to": str(TODAY)}, 422, "invalid_range"),
        ({"from": str(TODAY - DAY), "to": str(TODAY - 2 * DAY)}, 422, "invalid_range"),
        ({"from": str(TODAY - 93 * DAY), "to": str(TODAY - DAY)}, 422, "invalid_range"),
        ({"from": "yesterday", "to": str(TODAY - DAY)}, 400, "invalid_parameter"),
        ([1, 2], 400, "invalid_body"),
    ],
)
def test_report_requests_are_validated(start, body, status, code) -> None:
    box = start("z")
    response = session("z", base=box.url).post(reports_url(box, first_ids(box)), json=body,
                                               timeout=10)
    assert (response.status_code, response.json()["error"]) == (status, code)


def test_a_project_of_another_workspace_is_404(start) -> None:
    box = start("z", accounts=2)
    services = [r for r in truth_records(box.config) if r["type"] == "service"]
    other = next(s for s in services if s["account_id"] != services[0]["account_id"])
    ids = {"account_id": services[0]["account_id"], "service_id": other["service_id"]}
    response = session("z", base=box.url).post(
        reports_url(box, ids), json={"from": str(TODAY - DAY), "to": str(TODAY - DAY)}, timeout=10
    )
    assert response.status_code == 404


def test_idempotency_key_makes_a_retried_post_safe(start) -> None:
    box = start("z", stall_rate=1.0, stall_s=0.6)
    http = session("z", base=box.url)
    body = {"from": str(TODAY - 3 * DAY), "to": str(TODAY - DAY)}
    url = reports_url(box, first_ids(box))
    # The server creates the report, then answers too late: the client cannot know.
    with pytest.raises(requests.Timeout):
        http.post(url, json=body, headers={"Idempotency-Key": "k-1"}, timeout=0.2)
    box.update(stall_rate=0.0)
    time.sleep(0.5)
    retried = http.post(url, json=body, headers={"Idempotency-Key": "k-1"}, timeout=10)
    assert retried.status_code == 202
    events = box.stats()["events"]
    assert events["reports_created"] == 1
    assert events["idempotent_replays"] == 1
    reused = http.post(url, json={**body, "to": str(TODAY - 2 * DAY)},
                       headers={"Idempotency-Key": "k-1"}, timeout=10)
    assert (reused.status_code, reused.json()["error"]) == (422, "idempotency_key_reused")
    # Without a key, the same retry creates the report a second time.
    http.post(url, json=body, timeout=10)
    assert box.stats()["events"]["duplicate_reports"] == 1


def test_token_bucket_answers_429_with_an_http_date(start) -> None:
    box = start("z", rate_limit=4, rate_limit_window_s=2.0)
    http = session("z", base=box.url)
    answers = [http.get(box.url + Z_WORKSPACES, timeout=10) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200] * 3  # the token call took one
    refused = answers[3]
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert not any(name.lower().startswith("x-ratelimit") for name in refused.headers)
    moment = email.utils.parsedate_to_datetime(refused.headers["Retry-After"])
    wait = moment.timestamp() - time.time()
    assert 0 < wait <= 1.5  # a token refills every 0.5 s; the date is rounded up
    time.sleep(0.15)
    assert http.get(box.url + Z_WORKSPACES, timeout=10).status_code == 429
    assert box.stats()["early_retries"] == 1  # that one came before the date it was told
    time.sleep(max(moment.timestamp() - time.time(), 0) + 0.05)
    assert http.get(box.url + Z_WORKSPACES, timeout=10).status_code == 200


def test_values_settle_on_d_plus_2(start) -> None:
    box = start("z", revision_rate=1.0, report_delay_s=0.0, world_date=TODAY)
    http = session("z", base=box.url)
    ids = first_ids(box)
    day = TODAY - DAY

    def row_of(text: str) -> list[str]:
        return text.splitlines()[1].split(",")

    first = row_of(z_report(http, box.url, ids, day, day))
    box.update(today=TODAY + DAY)
    second = row_of(z_report(http, box.url, ids, day, day))
    box.update(today=TODAY + 5 * DAY)
    later = row_of(z_report(http, box.url, ids, day, day))
    assert first[3] == "false"
    assert second[3] == "true"
    assert first[1] != second[1]
    assert second == later


def test_foreign_link_points_the_next_page_elsewhere_for_that_workspace_only(start) -> None:
    plain = [r for r in truth_records(start("z").config) if r["type"] == "account"]
    target, other = plain[0]["account_id"], plain[1]["account_id"]
    box = start("z", accounts=3, services_per_account=(3, 3), rate_limit=100_000,
                hostile_services={target: "foreign_link"})
    http = session("z", base=box.url)

    def next_link(workspace: str) -> str:
        url = box.url + Z_PROJECTS.format(workspace_id=workspace)
        return http.get(url, params={"per_page": 1}, timeout=10).links["next"]["url"]

    assert next_link(target).startswith("http://vendorz.attacker.example/v3/workspaces/")
    assert next_link(other).startswith(box.url)
    assert box.stats()["faults"]["hostile_foreign_link"] == 1


def test_foreign_link_is_vendor_z_only() -> None:
    from vendor_sandbox import SandboxConfig  # noqa: PLC0415

    with pytest.raises(ValueError, match="foreign_link must only be used with vendor z"):
        SandboxConfig(vendor="x", hostile_services={"acc_0001": "foreign_link"})
