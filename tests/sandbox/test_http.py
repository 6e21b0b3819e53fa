"""The HTTP layer: keep-alive, methods, malformed input, unexpected errors, concurrency."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest
import requests

from vendor_sandbox import truth_records
from vendor_sandbox.api import Route
from vendor_sandbox.vendor_x import VendorX

from .helpers import TODAY, X_ACCOUNTS, X_METRICS, Y_ORGS, Y_USAGE, epoch, session


def first_ids(box) -> dict[str, str]:
    record = next(r for r in truth_records(box.config) if r["type"] == "service")
    return {"account_id": record["account_id"], "service_id": record["service_id"]}


def raw(url: str, payload: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(payload)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_keep_alive_serves_several_requests_on_one_connection(x_box) -> None:
    request = b"GET /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sandbox-token\r\n\r\n"
    closing = b"GET /v1/accounts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = raw(x_box.url, request * 3 + closing)
    assert answer.count(b"HTTP/1.1 200 OK") == 3
    assert answer.count(b"HTTP/1.1 401 Unauthorized") == 1
    assert answer.rstrip().endswith(b"}")


@pytest.mark.parametrize(
    "payload",
    [
        b"NONSENSE\r\n\r\n",
        b"GET /v1/accounts HTTP/1.1\r\nbad header\r\n\r\n",
        b"GET / HTTP/2\r\n\r\n",
    ],
)
def test_malformed_requests_get_a_400_vendor_body(x_box, payload) -> None:
    answer = raw(x_box.url, payload)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b'"error":{"code":"bad_request"' in answer


def test_other_methods_are_405_and_head_has_no_body(x_box) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = session("x").request(method, x_box.url + X_ACCOUNTS, timeout=10)
        assert response.status_code == 405
        assert response.headers["Allow"] == "GET"
        assert response.json()["error"]["code"] == "method_not_allowed"
    head = session("x").head(x_box.url + X_ACCOUNTS, timeout=10)
    assert head.status_code == 405
    assert head.content == b""


def test_garbage_never_yields_an_unrequested_500(x_box, y_box) -> None:
    x_ids = first_ids(x_box)
    x_paths = [
        "/",
        "/v1",
        "/v1/accounts/",
        "/v1//accounts",
        "/v1/accounts/%00/services",
        "/v1/accounts/../accounts",
        "/v1/accounts?page=99999999999999999999&per_page=1e3",
        "/v1/accounts?page=%FF%FE",
        X_METRICS.format(**x_ids) + "?start_date=9999-12-31&end_date=0001-01-01",
        X_METRICS.format(**x_ids) + "?start_date=2026-11-01&start_date=x&end_date=2026-11-02",
        X_METRICS.format(**x_ids) + "?start_date=%E2%98%83&end_date=2026-11-02",
        "/v1/accounts/" + "a" * 5000 + "/services",
        "/_sandbox/nope",
    ]
    y_ids = dict(zip(("org_id", "app_id"), first_ids(y_box).values(), strict=True))
    y_paths = [
        "/api/v2/orgs?limit=&cursor=",
        "/api/v2/orgs?cursor=" + "A" * 3000,
        "/api/v2/orgs?cursor=e30.AAAAAAAA",
        Y_USAGE.format(**y_ids) + "?start_ts=99999999999999999&end_ts=1",
        Y_USAGE.format(**y_ids) + "?start_ts=0&end_ts=1",
        Y_USAGE.format(**y_ids)
        + f"?start_ts={epoch(TODAY) - 7200}&end_ts={epoch(TODAY)}&cursor=%C3%28",
    ]
    for box, vendor, paths in ((x_box, "x", x_paths), (y_box, "y", y_paths)):
        http = session(vendor)
        for path in paths:
            response = http.get(box.url + path, timeout=10)
            assert response.status_code < 500, (path, response.status_code, response.text)
            assert "Traceback" not in response.text
        assert box.stats()["unexpected_errors"] == 0


def test_unknown_paths_answer_the_vendors_404(x_box, y_box) -> None:
    x = session("x").get(x_box.url + "/v2/anything", timeout=10)
    y = session("y").get(y_box.url + "/api/v1/orgs", timeout=10)
    assert (x.status_code, x.json()["error"]["code"]) == (404, "not_found")
    assert (y.status_code, y.json()["errors"][0]["code"]) == (404, "not_found")


def test_an_unexpected_exception_is_a_logged_500_without_a_trace(
    start, monkeypatch, caplog
) -> None:
    def explode(ctx):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(
        VendorX, "routes", (Route("/v1/accounts", explode, "accounts"), *VendorX.routes[1:])
    )
    box = start("x")
    with caplog.at_level(logging.ERROR, logger="vendor_sandbox"):
        response = session("x").get(box.url + X_ACCOUNTS, timeout=10)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "secret" not in response.text
    assert "X-RateLimit-Remaining" in response.headers
    assert box.stats()["unexpected_errors"] == 1
    assert any(
        "secret internals" in (record.exc_text or str(record.exc_info)) for record in caplog.records
    )


def test_stats_endpoint_matches_the_python_api(y_box) -> None:
    y_box.reset_stats()
    session("y").get(y_box.url + Y_ORGS, timeout=10)
    over_http = requests.get(y_box.url + "/_sandbox/stats", timeout=10).json()
    assert over_http == y_box.stats()
    assert over_http["requests"] == {"GET /api/v2/orgs": 1}
    assert over_http["responses"] == {"200": 1}
    assert set(over_http) >= {
        "requests_total", "requests", "responses", "rate_limited", "early_retries", "faults",
        "metric_days_requested", "metric_days_by_service", "unexpected_errors",
    }  # fmt: skip


def test_metric_days_count_window_days_of_successful_calls(start) -> None:
    box = start("x")
    http = session("x")
    ids = first_ids(box)
    url = box.url + X_METRICS.format(**ids)
    assert http.get(
        url, params={"start_date": "2026-11-01", "end_date": "2026-11-10"}, timeout=10
    ).ok
    assert http.get(
        url, params={"start_date": "2026-11-19", "end_date": "2026-11-25"}, timeout=10
    ).ok
    assert (
        http.get(
            url, params={"start_date": "2026-11-10", "end_date": "2026-11-01"}, timeout=10
        ).status_code
        == 422
    )
    stats = box.stats()
    assert stats["metric_days_requested"] == 17
    assert stats["metric_days_by_service"] == {ids["service_id"]: 17}


async def _concurrent_gets(url: str, count: int) -> float:
    host, port = url.removeprefix("http://").split(":")
    request = b"GET /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sandbox-token\r\n\r\n"
    connections = await asyncio.gather(
        *(asyncio.open_connection(host, int(port)) for _ in range(count))
    )

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        writer.close()
        return head

    began = time.monotonic()
    heads = await asyncio.gather(*(one(r, w) for r, w in connections))
    assert all(head.startswith(b"HTTP/1.1 200") for head in heads)
    return time.monotonic() - began


@pytest.mark.exclusive  # it bounds the elapsed time
def test_hundreds_of_sleeping_requests_overlap(start) -> None:
    box = start("x", latency_ms=500, rate_limit=100_000)
    elapsed = asyncio.run(_concurrent_gets(box.url, 256))
    assert elapsed < 2.0  # about one latency, not 256 of them
    assert box.stats()["max_in_flight"] == 256
