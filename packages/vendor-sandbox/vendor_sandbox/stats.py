"""Counters of what the sandbox served, readable from any thread.

Written from the event loop, read by tests through `Sandbox.stats()` or
`GET /_sandbox/stats`; one lock keeps every snapshot consistent. What counts:

- requests_total / requests: every request except /_sandbox/*, keyed "METHOD template"
  ("GET (unmatched)" for unknown paths); responses: by status (cancelled ones excluded).
- rate_limited: 429s sent; early_retries: see ratelimit.py.
- faults: injected faults by kind, plus fail_service / fail_account answers.
- metric_days_requested / metric_days_by_service: for metrics/usage calls answered 200,
  the UTC days the window covers (X: end - start + 1, unclipped; Y: ceil(seconds / 86400),
  counted on the first page of a window only, so paging does not inflate it).
- unexpected_errors: exceptions turned into a 500 (and logged).
- in_flight / max_in_flight: requests being served now / at most since the last reset.
- rate_windows (X, Y): per bucket, each fixed rate-limit window that opened, in order:
  `opened_s` and `closes_s` (seconds after the first request counted), `requests` counted
  in it, `refused` of them (429), `last_request_s`. It proves how closely a client follows
  the windows: the idle time between one window's close and the next one's opening. At
  most MAX_WINDOWS_LISTED per bucket are listed; `rate_windows_total` counts them all.
- events: vendor-specific counts (VendorZ: tokens_issued, invalid_token, reports_created,
  idempotent_replays, duplicate_reports); gauges: vendor-specific levels as
  {"now", "max"} (VendorZ: reports_outstanding, created and not yet downloaded, seen
  failed or expired).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from vendor_sandbox.faults import STAT_KEYS

MAX_WINDOWS_LISTED = 1000


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self._requests: Counter[str] = Counter()
        self._responses: Counter[str] = Counter()
        self._faults: Counter[str] = Counter(dict.fromkeys(STAT_KEYS, 0))
        self._days_by_service: Counter[str] = Counter()
        self._days_total = 0
        self._rate_limited = 0
        self._early_retries = 0
        self._unexpected = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._events: Counter[str] = Counter()
        self._gauges: dict[str, dict[str, int]] = {}
        # When the first and the latest request arrived: benchmarks divide by this span,
        # so a client's start-up time does not count against its request rate.
        self._first_request_at: float | None = None
        self._last_request_at: float | None = None
        # bucket -> [[opened, closes, requests, refused, last request], ...] (monotonic)
        self._windows: dict[str, list[list[float]]] = {}
        self._windows_total: Counter[str] = Counter()

    def reset(self) -> None:
        with self._lock:
            in_flight = self._in_flight
            levels = {name: level["now"] for name, level in self._gauges.items()}
            self._clear()
            self._in_flight = self._max_in_flight = in_flight
            self._gauges = {name: {"now": now, "max": now} for name, now in levels.items()}

    def request_started(self, route: str, early: bool) -> None:
        with self._lock:
            self._requests[route] += 1
            now = time.monotonic()
            if self._first_request_at is None:
                self._first_request_at = now
            self._last_request_at = now
            self._early_retries += early
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def rate_window(self, bucket: str, opened: float, closes: float, refused: bool) -> None:
        """One request counted in the fixed window of `bucket` that opened at `opened`."""
        with self._lock:
            now = time.monotonic()
            windows = self._windows.setdefault(bucket, [])
            if not windows or windows[-1][0] != opened:
                self._windows_total[bucket] += 1
                if len(windows) >= MAX_WINDOWS_LISTED:
                    return
                windows.append([opened, closes, 0, 0, now])
            elif self._windows_total[bucket] > len(windows):
                return  # a window past the listed ones
            window = windows[-1]
            window[2] += 1
            window[3] += refused
            window[4] = now

    def request_finished(self, status: int | None) -> None:
        """`status` None: the request was cancelled (shutdown) and got no answer."""
        with self._lock:
            if status is not None:
                self._responses[str(status)] += 1
                self._rate_limited += status == 429
            self._in_flight -= 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def unexpected_error(self) -> None:
        with self._lock:
            self._unexpected += 1

    def event(self, name: str) -> None:
        with self._lock:
            self._events[name] += 1

    def gauge(self, name: str, value: int) -> None:
        with self._lock:
            level = self._gauges.setdefault(name, {"now": 0, "max": 0})
            level["now"] = value
            level["max"] = max(level["max"], value)

    def metric_days(self, service_id: str, days: int) -> None:
        with self._lock:
            self._days_total += days
            self._days_by_service[service_id] += days

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests_total": sum(self._requests.values()),
                "requests": dict(self._requests),
                "responses": dict(self._responses),
                "rate_limited": self._rate_limited,
                "early_retries": self._early_retries,
                "faults": dict(self._faults),
                "metric_days_requested": self._days_total,
                "metric_days_by_service": dict(self._days_by_service),
                "unexpected_errors": self._unexpected,
                "events": dict(self._events),
                "gauges": {name: dict(level) for name, level in self._gauges.items()},
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
                "rate_windows": self._windows_snapshot(),
                "rate_windows_total": dict(self._windows_total),
                "request_span_s": (
                    0.0 if self._first_request_at is None or self._last_request_at is None
                    else round(self._last_request_at - self._first_request_at, 6)
                ),
            }

    def _windows_snapshot(self) -> dict[str, list[dict[str, float | int]]]:
        origin = self._first_request_at or 0.0
        return {
            bucket: [
                {"opened_s": round(opened - origin, 6), "closes_s": round(closes - origin, 6),
                 "requests": int(requests), "refused": int(refused),
                 "last_request_s": round(last - origin, 6)}
                for opened, closes, requests, refused, last in windows
            ]
            for bucket, windows in self._windows.items()
        }
