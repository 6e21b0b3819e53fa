"""Rate limits: headers on every response, 429 shapes per vendor, early-retry detection."""

from __future__ import annotations

import math
import threading
import time

import pytest
import requests

from vendor_sandbox.ratelimit import RateLimiter

from .helpers import X_ACCOUNTS, Y_APPS, Y_ORGS, session

X_HEADERS = {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
Y_HEADERS = X_HEADERS | {"X-RateLimit-Period"}
# Budgets in 1-second windows: a CPU-starved client could spread its requests over two.
pytestmark = pytest.mark.exclusive


def test_fixed_window_counts_and_resets() -> None:
    limiter = RateLimiter()
    decisions = [limiter.hit("b", 2, 10.0, now=100.0 + i) for i in range(3)]
    assert [d.limited for d in decisions] == [False, False, True]
    assert [d.remaining for d in decisions] == [1, 0, 0]
    assert decisions[0].reset_at == 110.0
    assert not limiter.hit("other", 2, 10.0, now=103.0).limited  # buckets are separate
    assert not limiter.hit("b", 2, 10.0, now=110.0).limited  # a new window


def test_early_retry_is_a_request_before_the_promised_reset() -> None:
    limiter = RateLimiter()
    limiter.hit("b", 1, 10.0, now=0.0)
    refused = limiter.hit("b", 1, 10.0, now=1.0)
    limiter.told(refused, now=1.0)
    # Already on the wire when the 429 left: the client could not have read it yet.
    assert not limiter.hit("b", 1, 10.0, now=1.05).early
    again = limiter.hit("b", 1, 10.0, now=5.0)
    assert again.early
    limiter.told(again, now=5.0)  # later 429s do not move the grace: hammering stays early
    assert limiter.hit("b", 1, 10.0, now=5.01).early
    assert not limiter.hit("b", 1, 10.0, now=9.96).early  # within the 0.05 s tolerance
    assert not limiter.hit("b", 1, 10.0, now=10.0).early


def test_x_headers_on_every_response_and_429_with_retry_after(start) -> None:
    box = start("x", rate_limit=3, rate_limit_window_s=1.0)
    http = session("x")
    responses = [
        http.get(box.url + X_ACCOUNTS, timeout=10),
        http.get(box.url + "/v1/nothing-here", timeout=10),
        http.post(box.url + X_ACCOUNTS, timeout=10),
        http.get(box.url + X_ACCOUNTS, timeout=10),
    ]
    assert [r.status_code for r in responses] == [200, 404, 405, 429]
    for response in responses:
        assert response.headers.keys() >= X_HEADERS
        assert "X-RateLimit-Period" not in response.headers
    assert [int(r.headers["X-RateLimit-Remaining"]) for r in responses] == [2, 1, 0, 0]
    limited = responses[-1]
    assert limited.json()["error"]["code"] == "rate_limited"
    reset = int(limited.headers["X-RateLimit-Reset"])
    assert time.time() - 1 < reset <= time.time() + 2  # an epoch second, not a duration
    assert int(limited.headers["Retry-After"]) == 1
    stats = box.stats()
    assert stats["rate_limited"] == 1
    assert stats["early_retries"] == 0
    # Unauthenticated requests share their own bucket, and still get headers.
    anonymous = requests.get(box.url + X_ACCOUNTS, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["X-RateLimit-Remaining"] == "2"


def test_y_headers_on_every_response_and_429_without_retry_after(start) -> None:
    box = start("y", rate_limit=2, rate_limit_window_s=30.0)
    http = session("y")
    org = http.get(box.url + Y_ORGS, timeout=10).json()["items"][0]["org_id"]
    responses = [
        http.get(box.url + Y_ORGS, timeout=10),  # global bucket: 2nd request
        http.get(box.url + Y_ORGS, timeout=10),  # 3rd: over
        http.get(box.url + Y_APPS.format(org_id=org), timeout=10),  # the org's own bucket
        requests.get(box.url + Y_APPS.format(org_id=org), timeout=10),  # no key: still counted
        http.get(box.url + Y_APPS.format(org_id=org), timeout=10),
    ]
    assert [r.status_code for r in responses] == [200, 429, 200, 403, 429]
    for response in responses:
        assert response.headers.keys() >= Y_HEADERS
        assert response.headers["X-RateLimit-Period"] == "30"
        assert 0 <= int(response.headers["X-RateLimit-Reset"]) <= 30  # seconds until, not epoch
    for limited in (responses[1], responses[4]):
        assert "Retry-After" not in limited.headers
        assert limited.json() == {
            "errors": [{"code": "rate_limited", "detail": "rate limit exceeded for this org"}]
        }
    assert box.stats()["rate_limited"] == 2


def test_early_retries_are_counted_and_honouring_clients_are_not(start) -> None:
    box = start("x", rate_limit=2, rate_limit_window_s=1.0)
    http = session("x")
    statuses = [http.get(box.url + X_ACCOUNTS, timeout=10).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    time.sleep(0.15)  # past the in-flight grace: this one was sent after reading the 429
    impatient = http.get(box.url + X_ACCOUNTS, timeout=10)  # ignores Retry-After
    assert impatient.status_code == 429
    assert box.stats()["early_retries"] == 1
    time.sleep(int(impatient.headers["Retry-After"]))
    assert http.get(box.url + X_ACCOUNTS, timeout=10).status_code == 200
    assert box.stats()["early_retries"] == 1


def test_y_client_waiting_for_reset_is_not_early(start) -> None:
    box = start("y", rate_limit=1, rate_limit_window_s=1.0)
    http = session("y")
    assert http.get(box.url + Y_ORGS, timeout=10).status_code == 200
    limited = http.get(box.url + Y_ORGS, timeout=10)
    assert limited.status_code == 429
    wait = int(limited.headers["X-RateLimit-Reset"])
    assert wait == math.ceil(wait) >= 1
    time.sleep(wait)
    assert http.get(box.url + Y_ORGS, timeout=10).status_code == 200
    assert box.stats()["early_retries"] == 0


def test_a_concurrent_client_that_honours_429_is_never_early(start) -> None:
    """Eight workers share one pause: requests already in flight at a 429 are not early."""
    box = start("x", rate_limit=8, rate_limit_window_s=1.0)
    lock = threading.Lock()
    resume_at = [0.0]
    served: list[int] = []

    def worker() -> None:
        http = session("x")
        while True:
            with lock:
                wait = resume_at[0] - time.monotonic()
                if len(served) >= 20:
                    return
            if wait > 0:
                time.sleep(wait)
                continue
            response = http.get(box.url + X_ACCOUNTS, timeout=10)
            with lock:
                if response.status_code == 429:
                    pause = time.monotonic() + int(response.headers["Retry-After"])
                    resume_at[0] = max(resume_at[0], pause)
                else:
                    served.append(response.status_code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    stats = box.stats()
    assert stats["rate_limited"] > 0
    assert stats["early_retries"] == 0


def test_resets_are_rounded_up_to_whole_seconds(start) -> None:
    """The contract: X an epoch second, Y seconds until, both rounded up (never early), so
    a client that waits for the header may wait up to a second past the window's end."""
    window_s = 2.5
    for vendor, path in (("x", X_ACCOUNTS), ("y", Y_ORGS)):
        box = start(vendor, rate_limit=5, rate_limit_window_s=window_s)
        http = session(vendor)
        sent = time.time()
        reset = http.get(box.url + path, timeout=10).headers["X-RateLimit-Reset"]
        read = time.time()
        assert reset.isdigit()  # whole seconds
        # The window opened between sent and read and ends window_s later.
        end_at_latest = read + window_s if vendor == "x" else window_s
        end_at_earliest = sent + window_s if vendor == "x" else window_s - (read - sent)
        assert math.ceil(end_at_earliest) <= int(reset) <= math.ceil(end_at_latest)


def test_stats_list_each_window_that_opened(start) -> None:
    box = start("x", rate_limit=2, rate_limit_window_s=0.4)
    http = session("x")
    statuses = [http.get(box.url + X_ACCOUNTS, timeout=10).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    time.sleep(0.45)
    assert http.get(box.url + X_ACCOUNTS, timeout=10).status_code == 200
    stats = box.stats()
    windows = stats["rate_windows"]["token"]
    assert [(w["requests"], w["refused"]) for w in windows] == [(3, 1), (1, 0)]
    assert stats["rate_windows_total"] == {"token": 2}
    first, second = windows
    assert first["opened_s"] == pytest.approx(0.0, abs=0.01)
    assert first["closes_s"] == pytest.approx(0.4, abs=0.01)
    assert first["opened_s"] <= first["last_request_s"] < first["closes_s"]
    assert second["opened_s"] >= first["closes_s"]
    assert second["closes_s"] == pytest.approx(second["opened_s"] + 0.4)
