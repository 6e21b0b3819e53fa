"""Client-side helpers for the sandbox tests: sessions, API walks, OpenAPI validation."""

from __future__ import annotations

import csv
import datetime
import functools
import io
import time
from decimal import Decimal
from importlib import resources
from typing import Any

import jsonschema
import requests
import yaml

TODAY = datetime.date(2026, 11, 20)
TOKEN = "sandbox-token"
UTC = datetime.timezone.utc

X_ACCOUNTS = "/v1/accounts"
X_SERVICES = "/v1/accounts/{account_id}/services"
X_METRICS = "/v1/accounts/{account_id}/services/{service_id}/metrics/daily"
Y_ORGS = "/api/v2/orgs"
Y_APPS = "/api/v2/orgs/{org_id}/apps"
Y_USAGE = "/api/v2/orgs/{org_id}/apps/{app_id}/usage/hourly"
Z_TOKEN = "/oauth/token"
Z_WORKSPACES = "/v3/workspaces"
Z_PROJECTS = "/v3/workspaces/{workspace_id}/projects"
Z_REPORTS = "/v3/workspaces/{workspace_id}/projects/{project_id}/reports"
Z_REPORT = "/v3/reports/{report_id}"
Z_DOWNLOAD = "/v3/reports/{report_id}/download"


def epoch(day: datetime.date) -> int:
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def z_token(base: str, secret: str = TOKEN, client_id: str = "sandbox-client") -> str:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    response = requests.post(base + Z_TOKEN, data=form, timeout=10)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def session(vendor: str, token: str = TOKEN, base: str = "") -> requests.Session:
    """A session with the vendor's credential; VendorZ first trades it for a token at base."""
    http = requests.Session()
    if vendor == "z":
        http.headers["Authorization"] = f"Bearer {z_token(base, token) if base else token}"
    elif vendor == "x":
        http.headers["Authorization"] = f"Bearer {token}"
    else:
        http.headers["X-Api-Key"] = token
    return http


def x_list(http: requests.Session, url: str, per_page: int = 25) -> list[dict[str, Any]]:
    """Every item of a VendorX list, following page numbers."""
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        response = http.get(url, params={"page": page, "per_page": per_page}, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["data"])
        if page >= body["meta"]["total_pages"]:
            return items
        page += 1


def y_list(
    http: requests.Session, url: str, params: dict[str, Any] | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Every item of a VendorY list, following cursors."""
    items: list[dict[str, Any]] = []
    query = {**(params or {}), "limit": limit}
    while True:
        response = http.get(url, params=query, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        if body["next_cursor"] is None:
            return items
        query["cursor"] = body["next_cursor"]


def walk_x(base: str, history_days: int, today: datetime.date = TODAY) -> list[dict[str, Any]]:
    """The whole VendorX API as truth-shaped records."""
    http = session("x")
    records: list[dict[str, Any]] = []
    for account in x_list(http, base + X_ACCOUNTS):
        records.append({"type": "account", "account_id": account["id"], "data": account})
        services = x_list(http, base + X_SERVICES.format(account_id=account["id"]))
        for service in services:
            ids = {"account_id": account["id"], "service_id": service["id"]}
            records.append({"type": "service", **ids, "data": service})
            start = today - datetime.timedelta(days=history_days)
            while start < today:
                end = min(start + datetime.timedelta(days=30), today)  # end may be today
                url = base + X_METRICS.format(**ids)
                response = http.get(
                    url, params={"start_date": str(start), "end_date": str(end)}, timeout=10
                )
                assert response.status_code == 200, response.text
                for row in response.json()["data"]:
                    records.append({"type": "metric", **ids, "date": row["date"], "data": row})
                start = end + datetime.timedelta(days=1)
    return records


def y_day(
    http: requests.Session, base: str, ids: dict[str, str], day: datetime.date, limit: int = 100
) -> dict[str, Any] | None:
    """One UTC day of usage summed like the ground truth does (None when it has no rows)."""
    url = base + Y_USAGE.format(org_id=ids["account_id"], app_id=ids["service_id"])
    query: dict[str, Any] = {"start_ts": epoch(day), "end_ts": epoch(day) + 86400, "limit": limit}
    rows: list[dict[str, Any]] = []
    missing: list[int] = []
    while True:
        response = http.get(url, params=query, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body
        rows.extend(body["items"])
        missing = body["missing_hours"]
        assert body["incomplete"] == bool(missing)
        if body["next_cursor"] is None:
            break
        query["cursor"] = body["next_cursor"]
    if not rows:
        return None
    sums = {
        "requests": Decimal("0.00"),
        "egress": Decimal("0.00"),
        "compute_seconds": Decimal("0.00"),
    }
    for row in rows:
        sums[row["metric"]] += Decimal(row["value"])
    return {
        **{name: str(value) for name, value in sums.items()},
        "hours_reported": len({row["ts"] for row in rows}),
        "missing_hours": missing,
        "estimated": any(row["estimated"] for row in rows),
        "revision": max(row["revision"] for row in rows),
    }


def z_list(http: requests.Session, url: str, per_page: int = 50) -> list[dict[str, Any]]:
    """Every item of a VendorZ list, following `Link: rel="next"`."""
    items: list[dict[str, Any]] = []
    response = http.get(url, params={"per_page": per_page}, timeout=10)
    while True:
        assert response.status_code == 200, response.text
        items.extend(response.json()["data"])
        following = response.links.get("next")
        if following is None:
            return items
        response = http.get(following["url"], timeout=10)


def z_report(http: requests.Session, base: str, ids: dict[str, str], first: datetime.date,
             last: datetime.date) -> str:
    """Create a report, wait until it is ready, return its CSV text."""
    url = base + Z_REPORTS.format(workspace_id=ids["account_id"], project_id=ids["service_id"])
    created = http.post(url, json={"from": str(first), "to": str(last)}, timeout=10)
    assert created.status_code == 202, created.text
    report_id = created.json()["report_id"]
    while True:
        status = http.get(base + Z_REPORT.format(report_id=report_id), timeout=10).json()
        if status["status"] == "ready":
            break
        assert status["status"] == "pending", status
        time.sleep(0.02)
    download = http.get(base + status["download_url"], timeout=10)
    assert download.status_code == 200, download.text
    return download.text


def walk_z(base: str, history_days: int, today: datetime.date = TODAY) -> list[dict[str, Any]]:
    """The whole VendorZ API as truth-shaped records (reports need a short report_delay_s)."""
    http = session("z", base=base)
    records: list[dict[str, Any]] = []
    for workspace in z_list(http, base + Z_WORKSPACES, per_page=3):
        records.append({"type": "account", "account_id": workspace["id"], "data": workspace})
        url = base + Z_PROJECTS.format(workspace_id=workspace["id"])
        for project in z_list(http, url, per_page=2):
            ids = {"account_id": workspace["id"], "service_id": project["id"]}
            records.append({"type": "service", **ids, "data": project})
            first = today - datetime.timedelta(days=history_days)
            text = z_report(http, base, ids, first, today - datetime.timedelta(days=1))
            for row in csv.DictReader(io.StringIO(text)):
                data = {"date": row["date"], "requests": int(row["requests"]),
                        "cost_usd": row["cost_usd"], "final": row["final"] == "true"}
                records.append({"type": "metric", **ids, "date": row["date"], "data": data})
    return records


def walk_y(base: str, history_days: int, today: datetime.date = TODAY) -> list[dict[str, Any]]:
    """The whole VendorY API as truth-shaped records."""
    http = session("y")
    records: list[dict[str, Any]] = []
    for org in y_list(http, base + Y_ORGS):
        records.append({"type": "account", "account_id": org["org_id"], "data": org})
        for app in y_list(http, base + Y_APPS.format(org_id=org["org_id"])):
            ids = {"account_id": org["org_id"], "service_id": app["app_id"]}
            records.append({"type": "service", **ids, "data": app})
            for back in range(history_days, 0, -1):
                day = today - datetime.timedelta(days=back)
                data = y_day(http, base, ids, day)
                if data is not None:
                    records.append({"type": "metric", **ids, "date": day.isoformat(), "data": data})
    return records


@functools.cache
def openapi(vendor: str) -> dict[str, Any]:
    text = (resources.files("vendor_sandbox") / "openapi" / f"vendor{vendor}.yaml").read_text()
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and len(node) == 1:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def check_openapi(vendor: str, template: str, response: requests.Response) -> None:
    """The response is documented for this path and status, and its body and headers conform."""
    document = openapi(vendor)
    method = response.request.method if response.request is not None else "GET"
    operation = document["paths"][template][str(method).lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{status} not documented for {template}"
    spec = _resolve(document, operation["responses"][status])
    media = response.headers["Content-Type"].split(";")[0]
    assert media in spec["content"], f"{media} not documented for {status} on {template}"
    schema = spec["content"][media]["schema"]
    body = response.json() if media == "application/json" else response.text
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": document["components"],
        **schema,
    }
    jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker()).validate(body)
    for name, header in spec.get("headers", {}).items():
        if _resolve(document, header).get("required"):
            assert name in response.headers, f"header {name} missing on {status} {template}"
