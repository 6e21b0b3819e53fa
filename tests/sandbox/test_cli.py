"""The command line: `serve` announces its URL first and stops on SIGTERM; loopback only."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - the address the sandbox must refuse
SERVE = [
    sys.executable,
    "-m",
    "vendor_sandbox",
    "serve",
    "--vendor",
    "x",
    "--seed",
    "3",
    "--today",
    "2026-11-20",
]


def test_serve_prints_its_url_first_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [*SERVE, "--accounts", "2", "--services-per-account", "1-1", "--token", "t0k"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        response = requests.get(
            url + "/v1/accounts", headers={"Authorization": "Bearer t0k"}, timeout=10
        )
        assert response.status_code == 200
        assert response.json()["meta"]["total_count"] == 2
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_refuses_a_non_loopback_host_with_exit_code_2() -> None:
    completed = subprocess.run(
        [*SERVE, "--host", ALL_INTERFACES], capture_output=True, text=True, timeout=30, check=False
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert ALL_INTERFACES in completed.stderr
    assert "loopback" in completed.stderr


def test_bad_flags_are_usage_errors() -> None:
    completed = subprocess.run(
        [*SERVE, "--error-5xx-rate", "lots"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 2


def test_console_script_and_a_taken_port() -> None:
    script = shutil.which("vendor-sandbox", path=str(Path(sys.executable).parent))
    assert script, "the vendor-sandbox console script is not installed"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        command = [script, *SERVE[3:], "--port", port]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert completed.returncode == 1
    assert "cannot serve" in completed.stderr
    assert "Traceback" not in completed.stderr
