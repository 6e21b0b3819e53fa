"""Every kind of response conforms to the OpenAPI documents (status, media type, body, headers)."""

from __future__ import annotations

import datetime
import json
import time

import jsonschema
import pytest
import requests
import yaml

from vendor_sandbox import truth_records

from .helpers import (
    TODAY,
    X_ACCOUNTS,
    X_METRICS,
    X_SERVICES,
    Y_APPS,
    Y_ORGS,
    Y_USAGE,
    Z_DOWNLOAD,
    Z_PROJECTS,
    Z_REPORT,
    Z_REPORTS,
    Z_TOKEN,
    Z_WORKSPACES,
    check_openapi,
    epoch,
    openapi,
    session,
)  # fmt: skip

NOW = epoch(TODAY)


def services(box) -> list[dict]:
    return [r for r in truth_records(box.config) if r["type"] == "service"]


def test_the_documents_are_openapi_3_1_with_the_contract_paths() -> None:
    assert set(openapi("x")["paths"]) == {X_ACCOUNTS, X_SERVICES, X_METRICS}
    assert set(openapi("y")["paths"]) == {Y_ORGS, Y_APPS, Y_USAGE}
    assert set(openapi("z")["paths"]) == {
        Z_TOKEN, Z_WORKSPACES, Z_PROJECTS, Z_REPORTS, Z_REPORT, Z_DOWNLOAD
    }
    assert {openapi(v)["openapi"] for v in "xyz"} == {"3.1.0"}


def test_served_document_is_the_packaged_one(x_box) -> None:
    served = yaml.safe_load(session("x").get(x_box.url + "/_sandbox/openapi.yaml", timeout=10).text)
    assert served == openapi("x")


def test_the_check_rejects_a_nonconforming_body() -> None:
    response = requests.Response()
    response.status_code = 200
    response.headers["Content-Type"] = "application/json"
    response._content = json.dumps(
        {"items": [{"org_id": "o-0000", "extra": 1}], "next_cursor": None}
    ).encode()
    with pytest.raises(jsonschema.ValidationError):
        check_openapi("y", Y_ORGS, response)


def test_vendor_x_responses_conform(start) -> None:
    box = start("x", accounts=6, deleted_service_rate=0.5, rate_limit=100_000)
    http = session("x")
    seen: set[tuple[str, int]] = set()

    def check(template: str, url: str, client=http, **params) -> None:
        response = client.get(box.url + url, params=params, timeout=10)
        check_openapi("x", template, response)
        seen.add((template, response.status_code))

    records = services(box)
    assert any(r["data"]["deleted_at"] for r in records)
    for record in records:
        ids = {"account_id": record["account_id"], "service_id": record["service_id"]}
        check(X_SERVICES, X_SERVICES.format(account_id=ids["account_id"]), per_page=100)
        check(
            X_METRICS,
            X_METRICS.format(**ids),
            start_date=TODAY - datetime.timedelta(days=30),
            end_date=TODAY,
        )
    ids = {"account_id": records[0]["account_id"], "service_id": records[0]["service_id"]}
    metrics = X_METRICS.format(**ids)
    check(X_ACCOUNTS, X_ACCOUNTS, per_page=2, page=2)
    check(X_ACCOUNTS, X_ACCOUNTS, per_page=101)
    check(X_ACCOUNTS, X_ACCOUNTS, client=session("x", "wrong"))
    check(X_SERVICES, X_SERVICES.format(account_id="acc_zzzz"))
    check(X_METRICS, metrics, start_date="2026-01-01", end_date="2026-03-01")
    check(X_METRICS, metrics, start_date="2026-11-02", end_date="2026-11-01")
    check(X_METRICS, metrics, start_date="yesterday", end_date="2026-11-01")
    box.update(error_5xx_rate=0.5, retry_after_503_rate=0.3)
    for page in range(1, 40):
        check(X_ACCOUNTS, X_ACCOUNTS, page=page)
    box.update(
        error_5xx_rate=0.0,
        retry_after_503_rate=0.0,
        rate_limit=1,
        fail_services=frozenset({ids["service_id"]}),
    )
    check(X_METRICS, metrics, start_date="2026-11-01", end_date="2026-11-02")
    check(X_ACCOUNTS, X_ACCOUNTS)
    statuses = {status for _, status in seen}
    assert statuses >= {200, 400, 401, 404, 422, 429, 500, 502, 503}, statuses


def test_vendor_y_responses_conform(start) -> None:
    box = start("y", accounts=6, deleted_service_rate=0.5, rate_limit=100_000)
    http = session("y")
    seen: set[tuple[str, int]] = set()

    def check(template: str, url: str, client=http, **params) -> dict:
        response = client.get(box.url + url, params=params, timeout=10)
        check_openapi("y", template, response)
        seen.add((template, response.status_code))
        is_json = response.headers["Content-Type"].startswith("application/json")
        return response.json() if is_json else {}

    records = services(box)
    assert any(r["data"]["archived"] for r in records)
    for record in records:
        ids = {"org_id": record["account_id"], "app_id": record["service_id"]}
        check(Y_APPS, Y_APPS.format(org_id=ids["org_id"]), limit=1)
        for back in (1, 2, 9):
            check(
                Y_USAGE,
                Y_USAGE.format(**ids),
                start_ts=NOW - back * 86400,
                end_ts=NOW - (back - 1) * 86400,
            )
    ids = {"org_id": records[0]["account_id"], "app_id": records[0]["service_id"]}
    usage = Y_USAGE.format(**ids)
    page = check(Y_ORGS, Y_ORGS, limit=2)
    check(Y_ORGS, Y_ORGS, limit=2, cursor=page["next_cursor"])
    check(Y_ORGS, Y_ORGS, limit=500)
    check(Y_ORGS, Y_ORGS, cursor="forged")
    check(Y_ORGS, Y_ORGS, client=session("y", "wrong"))
    check(Y_APPS, Y_APPS.format(org_id="o-zzzz"))
    check(Y_USAGE, usage, start_ts=NOW - 90000, end_ts=NOW)
    check(Y_USAGE, usage, start_ts=NOW - 400 * 86400, end_ts=NOW - 400 * 86400 + 60)
    check(Y_USAGE, usage, start_ts=NOW, end_ts=NOW + 3600)
    box.update(
        error_5xx_rate=0.2, retry_after_503_rate=0.2, html_502_rate=0.2, partial_200_rate=0.2
    )
    partial = [
        check(Y_USAGE, usage, start_ts=NOW - 86400 * 3 + hour, end_ts=NOW - 86400 * 2).get("errors")
        for hour in range(40)
    ]
    assert any(partial)
    box.update(
        error_5xx_rate=0.0, retry_after_503_rate=0.0, html_502_rate=0.0, partial_200_rate=0.0,
        stall_rate=1.0, stall_s=0.0,
    )  # fmt: skip
    check(Y_ORGS, Y_ORGS)
    box.update(stall_rate=0.0, rate_limit=1)
    check(Y_ORGS, Y_ORGS)
    statuses = {status for _, status in seen}
    assert statuses >= {200, 400, 403, 404, 410, 422, 429, 500, 502, 503, 504}, statuses


def test_vendor_z_responses_conform(start) -> None:
    box = start("z", accounts=4, deleted_service_rate=0.5, report_delay_s=0.0,
                rate_limit=100_000)
    http = session("z", base=box.url)
    seen: set[tuple[str, int]] = set()

    def check(template: str, url: str, method: str = "GET", client=http, **kwargs) -> dict:
        response = client.request(method, box.url + url, timeout=10, **kwargs)
        check_openapi("z", template, response)
        seen.add((template, response.status_code))
        return response.json() if "json" in response.headers["Content-Type"] else {}

    form = {"grant_type": "client_credentials", "client_id": "sandbox-client",
            "client_secret": "sandbox-token"}
    check(Z_TOKEN, Z_TOKEN, "POST", data=form)
    check(Z_TOKEN, Z_TOKEN, "POST", data={**form, "client_secret": "no"})
    check(Z_TOKEN, Z_TOKEN, "POST", data={**form, "grant_type": "password"})
    records = services(box)
    assert any(r["data"]["archived_at"] for r in records)
    for record in records:
        ids = {"workspace_id": record["account_id"], "project_id": record["service_id"]}
        check(Z_PROJECTS, Z_PROJECTS.format(workspace_id=ids["workspace_id"]), params={
            "per_page": 1})
        body = {"from": str(TODAY - datetime.timedelta(days=30)),
                "to": str(TODAY - datetime.timedelta(days=1))}
        created = check(Z_REPORTS, Z_REPORTS.format(**ids), "POST", json=body)
        report = Z_REPORT.format(report_id=created["report_id"])
        status = check(Z_REPORT, report)
        check(Z_DOWNLOAD, status["download_url"])
    ids = {"workspace_id": records[0]["account_id"], "project_id": records[0]["service_id"]}
    reports = Z_REPORTS.format(**ids)
    check(Z_WORKSPACES, Z_WORKSPACES, params={"per_page": 101})
    check(Z_WORKSPACES, Z_WORKSPACES, client=session("z", "not-a-token"))
    check(Z_PROJECTS, Z_PROJECTS.format(workspace_id="ws_zzzz"))
    check(Z_REPORTS, reports, "POST", json={"from": str(TODAY), "to": str(TODAY)})
    check(Z_REPORTS, reports, "POST", data="{")
    check(Z_REPORT, Z_REPORT.format(report_id="rpt_9999999"))
    box.update(report_delay_s=30.0)
    pending = check(Z_REPORTS, reports, "POST", json={"from": "2026-11-01", "to": "2026-11-02"})
    check(Z_DOWNLOAD, Z_DOWNLOAD.format(report_id=pending["report_id"]))
    box.update(report_delay_s=0.0, report_ttl_s=0.01)
    expiring = check(Z_REPORTS, reports, "POST", json={"from": "2026-11-03", "to": "2026-11-04"})
    time.sleep(0.05)
    check(Z_REPORT, Z_REPORT.format(report_id=expiring["report_id"]))
    box.update(error_5xx_rate=0.5, retry_after_503_rate=0.3)
    for page in range(1, 30):
        check(Z_WORKSPACES, Z_WORKSPACES, params={"page": page})
    box.update(error_5xx_rate=0.0, retry_after_503_rate=0.0, rate_limit=1,
               rate_limit_window_s=60.0)
    check(Z_WORKSPACES, Z_WORKSPACES)
    check(Z_WORKSPACES, Z_WORKSPACES)
    statuses = {status for _, status in seen}
    assert statuses >= {200, 202, 400, 401, 404, 409, 410, 422, 429, 500, 503}, statuses
