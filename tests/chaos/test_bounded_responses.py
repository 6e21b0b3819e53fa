"""Responses are bounded in time and size: a hostile body costs one attempt, not the run.

One run per vendor serves, each for its own service: a body trickling in a few bytes at a
time (every read is quick, the whole takes minutes), a body that never ends, a page bigger
than `max_response_bytes` that says so in its Content-Length, and JSON nested 200,000
deep. Each fails its attempt naming the setting (or the nesting), is retried as usual, and
then fails only its partition; everything else lands equal to the truth.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pytest

from tests.chaos.checks import (
    assert_each_key_once,
    assert_lands,
    metric_keys_by_service,
    the_metrics_failure,
    truth_of,
    without,
)
from tests.chaos.configs import chaos_config
from tests.tap_runner import TapRun, run_tap
from tests.taps.conftest import sandbox_config
from vendor_sandbox import run_sandbox
from vendor_sandbox.hostile import HUGE_PAGE_BYTES

WORLD = {"accounts": 4, "services_per_account": (2, 3)}
# Shorter than any trickled body takes (even an empty day's, ~80 bytes at 40 bytes/s).
DEADLINE_S = 1.0
CAP = HUGE_PAGE_BYTES // 2  # above the deep nesting's 400 kB, below the huge page
ATTEMPTS = 2
# mode -> what the failed partition's message says
EXPECTED = {
    "trickle_body": f"the response took longer than response_deadline ({DEADLINE_S:g}s)",
    "endless_body": f"the response is larger than max_response_bytes ({CAP} bytes",
    "huge_page": f"more than max_response_bytes ({CAP} bytes",
    "deep_nesting": "response nested too deeply",
}


@dataclass
class BoundedRun:
    vendor: str
    services: dict[str, tuple[str, str]]  # mode -> (account, service)
    run: TapRun
    summary: dict[str, Any]
    truth: dict[str, Any]
    seconds: float

    def failure(self, mode: str) -> dict[str, Any]:
        return the_metrics_failure(self.summary, *self.services[mode])


@pytest.fixture(scope="module", params=["x", "y"])
def bounded(request: pytest.FixtureRequest, tmp_path_factory) -> BoundedRun:
    vendor = str(request.param)
    tmp_path = tmp_path_factory.mktemp(f"bounded-{vendor}")
    plain = sandbox_config(vendor, **WORLD)
    config = chaos_config(vendor, "http://unused", response_deadline=DEADLINE_S,
                          max_response_bytes=CAP, max_retries=ATTEMPTS - 1,
                          summary_path=str(tmp_path / "summary.json"))
    truth = truth_of(plain, config)
    targets = sorted(metric_keys_by_service(truth))[: len(EXPECTED)]
    services = dict(zip(EXPECTED, targets, strict=True))
    hostile = {service: mode for mode, (_, service) in services.items()}
    with run_sandbox(sandbox_config(vendor, **WORLD, hostile_services=hostile)) as sandbox:
        config["api_url"] = sandbox.url
        started = time.monotonic()
        # Without the limits the trickle alone would take minutes and the endless body
        # forever: the timeout here is what fails the test then.
        run = run_tap(vendor, config, tmp_path, timeout=90)
        seconds = time.monotonic() - started
    summary = json.loads((tmp_path / "summary.json").read_text())
    return BoundedRun(vendor, services, run, summary, truth, seconds)


@pytest.mark.parametrize("mode", list(EXPECTED))
def test_a_hostile_body_fails_its_partition_naming_the_limit(bounded, mode):
    account, service = bounded.services[mode]
    failure = bounded.failure(mode)
    assert failure["error"] == "PartitionError"
    assert EXPECTED[mode] in failure["message"]
    assert f"gave up after {ATTEMPTS} attempts" in failure["message"]
    assert account in failure["message"]
    assert service in failure["message"]
    assert "RecursionError" not in bounded.run.stderr
    assert failure["message"] in bounded.run.stderr
    # Nothing of it was emitted, and its bookmark covers none of its days (windows are
    # bookmarked by prefix: at most days before the service had data are behind it).
    assert all(r["service_id"] != service for r in bounded.run.records["metrics"])
    bookmark = bounded.run.bookmarks().get((account, service))
    first_day = min(key[2] for key in bounded.truth["metrics"] if key[1] == service)
    assert bookmark is None or bookmark < first_day


def test_everything_else_lands_and_the_run_ends_promptly(bounded):
    assert bounded.run.returncode == 1, bounded.run.stderr[-3000:]
    failed = {service for _, service in bounded.services.values()}
    assert_each_key_once(bounded.run)
    assert_lands(bounded.vendor, [bounded.run], without(bounded.truth, services=failed))
    # Two attempts at the trickle cost about two deadlines; nothing waits for the body.
    assert bounded.seconds < 45, bounded.seconds
