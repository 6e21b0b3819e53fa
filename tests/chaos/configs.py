"""Tap settings for chaos runs: small worlds (3 accounts, 2-3 services each, a 21-day
window, see tests/taps/conftest.py) and short timeouts, so the suite stays quick."""

from __future__ import annotations

from typing import Any

from tests.taps.conftest import tap_config

# Timeouts and backoff that keep retries quick; `request_timeout` is what a stall exceeds.
FAST = {
    "request_timeout": 0.5,
    "connect_timeout": 2,
    "backoff_max_seconds": 0.2,
    "state_interval_seconds": 0.05,
}
# Sandbox latency that stretches a run to about a second, so it can be interrupted mid-way
# (VendorX makes a dozen requests per run, VendorY about 170, VendorZ about 30 and a
# report's preparation).
SLOW = {"x": {"latency_ms": 60.0}, "y": {"latency_ms": 10.0}, "z": {"latency_ms": 30.0}}


def chaos_config(vendor: str, url: str, **settings: Any) -> dict[str, Any]:
    """A tap config for the sandbox at `url` with the fast timeouts above."""
    return tap_config(vendor, url, **{**FAST, **settings})
