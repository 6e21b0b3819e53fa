"""SandboxConfig: validation, loopback-only binding, CLI flag mapping, live updates."""

from __future__ import annotations

import datetime
import socket
import threading
import time

import pytest
import requests

from vendor_sandbox import SandboxConfig, run_sandbox, truth_records
from vendor_sandbox.__main__ import build_parser
from vendor_sandbox.config import config_from_arguments
from vendor_sandbox.server import STOP_TIMEOUT_S

from .helpers import TODAY

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - an address the sandbox must refuse


@pytest.mark.parametrize(
    "host", [ALL_INTERFACES, "192.168.1.10", "10.0.0.1", "::", "example.invalid"]
)
def test_non_loopback_hosts_are_refused_naming_the_host(host: str) -> None:
    with pytest.raises(ValueError, match="loopback") as caught:
        SandboxConfig(vendor="x", host=host)
    assert host in str(caught.value)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    assert SandboxConfig(vendor="y", host=host).host == host


def test_localhost_binds_one_ipv4_address() -> None:
    with run_sandbox(SandboxConfig(vendor="x", host="localhost")) as box:
        assert box.url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    "knobs",
    [
        {"vendor": "w"},
        {"vendor": "x", "error_5xx_rate": 1.5},
        {"vendor": "x", "error_5xx_rate": 0.6, "stall_rate": 0.6},  # shares of one draw
        {"vendor": "x", "services_per_account": (4, 2)},
        {"vendor": "x", "rate_limit": 0},
        {"vendor": "x", "max_page_size": 0},
        {
            "vendor": "x",
            "today": datetime.date(2026, 1, 1),
            "world_date": datetime.date(2026, 2, 1),
        },
    ],
)
def test_invalid_knobs_are_refused(knobs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"must|vendor"):
        SandboxConfig(**knobs)  # type: ignore[arg-type]


def test_vendor_defaults_follow_the_contract() -> None:
    x, y = SandboxConfig(vendor="x"), SandboxConfig(vendor="y")
    assert (x.page_max, x.limit_per_window) == (100, 600)
    assert (y.page_max, y.limit_per_window) == (200, 100)
    assert SandboxConfig(vendor="y", max_page_size=500).page_max == 200
    listed = SandboxConfig(vendor="y", fail_services=["a-1"])  # type: ignore[arg-type]
    assert listed.fail_services == frozenset({"a-1"})  # any iterable of ids is accepted


def test_every_knob_is_a_kebab_case_flag() -> None:
    args = build_parser().parse_args(
        [
            "serve", "--vendor", "y", "--seed", "9", "--today", "2026-11-20",
            "--services-per-account", "0-3", "--fail-services", "a-1,a-2",
            "--error-5xx-rate", "0.1", "--max-page-size", "7", "--world-date", "2026-11-01",
        ]
    )  # fmt: skip
    config = config_from_arguments(args)
    assert config == SandboxConfig(
        vendor="y",
        seed=9,
        today=datetime.date(2026, 11, 20),
        services_per_account=(0, 3),
        fail_services=frozenset({"a-1", "a-2"}),
        error_5xx_rate=0.1,
        max_page_size=7,
        world_date=datetime.date(2026, 11, 1),
    )


def test_update_changes_knobs_but_not_the_socket() -> None:
    with run_sandbox(SandboxConfig(vendor="x", error_5xx_rate=0.5)) as box:
        assert box.update(error_5xx_rate=0.0).error_5xx_rate == 0.0
        assert box.config.error_5xx_rate == 0.0
        with pytest.raises(ValueError, match="port"):
            box.update(port=1234)
        with pytest.raises(ValueError, match="stall_rate"):
            box.update(stall_rate=2.0)


def sandbox_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "vendor-sandbox"}


def refused(url: str) -> bool:
    host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=30).close()
    except ConnectionRefusedError:
        return True
    return False


def test_leaving_the_context_stops_the_server_and_its_thread() -> None:
    # Only this sandbox's thread counts: a full run has other tests' sandboxes about.
    before = sandbox_threads()
    with run_sandbox(SandboxConfig(vendor="y")) as box:
        url = box.url
        assert requests.get(url + "/_sandbox/stats", timeout=30).ok
        assert len(sandbox_threads() - before) == 1
    assert refused(url)
    assert not sandbox_threads() - before


def test_a_client_that_stopped_reading_does_not_keep_the_sandbox_running() -> None:
    # An endless body to a client that reads nothing: the server's writes stall. Stopping
    # must not wait for that client (it used to, for good, and leave the thread running).
    before = sandbox_threads()
    config = SandboxConfig(vendor="x", seed=7, today=TODAY, rate_limit=100_000)
    service = next(r for r in truth_records(config) if r["type"] == "metric")
    path = (f"/v1/accounts/{service['account_id']}/services/{service['service_id']}/metrics/"
            "daily?start_date=2026-11-01&end_date=2026-11-17")
    with run_sandbox(config.changed(hostile_services={service["service_id"]: "endless_body"})
                     ) as box:
        host, port = box.url.rsplit("/", 1)[-1].rsplit(":", 1)
        stalled = socket.create_connection((host, int(port)), timeout=30)
        stalled.sendall(f"GET {path} HTTP/1.1\r\nHost: sandbox\r\nAuthorization: Bearer "
                        f"{config.token}\r\n\r\n".encode())
        stalled.recv(1)  # the body is on its way; from now on nothing is read
        deadline = time.monotonic() + 30
        while box.stats()["faults"].get("hostile_endless_body", 0) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)  # the socket buffers fill up and the server's writes stall
        started = time.monotonic()
    stop_s = time.monotonic() - started
    try:
        assert not sandbox_threads() - before
        assert refused(box.url)
        assert stop_s < STOP_TIMEOUT_S
    finally:
        stalled.close()
