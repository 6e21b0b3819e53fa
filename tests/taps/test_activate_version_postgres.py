"""ACTIVATE_VERSION into a real target-postgres (MeltanoLabs) on a throwaway PostgreSQL.

Run 1 lists three accounts, run 2 (the vendor dropped one) lists two: target-postgres must
soft-delete exactly the account and the services the second listing no longer has.
PostgreSQL comes from the machine (Debian's package); target-postgres is installed from the
package registry into its own venv, as a Meltano user would run it.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tap_runner import run_tap
from tests.taps.conftest import sandbox_config, tap_config
from vendor_sandbox import run_sandbox

pytestmark = pytest.mark.slow
UV = Path(sys.executable).parent / "uv"


def _as_postgres(*cmd: str | Path) -> list[str]:
    # PostgreSQL refuses to run as root: run its programs as the `postgres` user then.
    args = [str(part) for part in cmd]
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="module")
def postgres() -> Iterator[int]:
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed")
    # Not under pytest's tmp dir: its parents are private to root, and PostgreSQL runs as
    # the `postgres` user when we are root.
    home = Path(tempfile.mkdtemp(prefix="pg-activate-version-"))
    if os.geteuid() == 0:
        try:
            os.chown(home, pwd.getpwnam("postgres").pw_uid, -1)
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run PostgreSQL")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = home / "data"
    subprocess.run(_as_postgres(initdb, "-D", data, "-A", "trust", "-U", "postgres"),
                   check=True, capture_output=True)
    subprocess.run(_as_postgres(pg_ctl, "-D", data, "-l", home / "log", "-w", "-o",
                                f"-p {port} -k {home} -c listen_addresses=127.0.0.1", "start"),
                   check=True, capture_output=True)
    try:
        yield port
    finally:
        subprocess.run(_as_postgres(pg_ctl, "-D", data, "-m", "immediate", "stop"),
                       check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def target_postgres(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("target-postgres") / "venv"
    subprocess.run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)],
                   check=True)
    installed = subprocess.run([str(UV), "pip", "install", "--quiet", "--python",
                                str(venv / "bin" / "python"), "meltanolabs-target-postgres"],
                               capture_output=True, text=True, check=False)
    assert installed.returncode == 0, installed.stderr[-2000:]
    return venv / "bin" / "target-postgres"


def query(port: int, sql: str) -> list[tuple[str, ...]]:
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-tA",
                          "-F", "|", "-c", sql], capture_output=True, text=True, check=True)
    return [tuple(line.split("|")) for line in out.stdout.splitlines() if line]


def test_target_postgres_soft_deletes_what_the_vendor_no_longer_lists(
        postgres, target_postgres, tmp_path):
    config = tmp_path / "target.json"
    config.write_text(json.dumps({
        "host": "127.0.0.1", "port": postgres, "user": "postgres", "password": "unused",
        "database": "postgres", "default_target_schema": "vendorx", "hard_delete": False,
        "add_record_metadata": True}))
    listed = []
    for accounts in (3, 2):  # the vendor drops an account (and lists other services)
        with run_sandbox(sandbox_config("x", accounts=accounts)) as sandbox:
            run = run_tap("x", tap_config("x", sandbox.url, emit_activate_version_messages=True),
                          tmp_path)
        assert run.returncode == 0, run.stderr[-2000:]
        listed.append(run)
        loaded = subprocess.run([str(target_postgres), "--config", str(config)],
                                input=run.stdout, capture_output=True, text=True, timeout=300,
                                check=False)
        assert loaded.returncode == 0, loaded.stderr[-3000:]
    latest = listed[-1]
    current_accounts = {r["account_id"] for r in latest.records["accounts"]}
    current_services = {(r["account_id"], r["service_id"]) for r in latest.records["services"]}
    gone_accounts = {r["account_id"] for r in listed[0].records["accounts"]} - current_accounts
    assert gone_accounts, "the second world must drop an account for this test to mean much"

    accounts = query(postgres, "select account_id, _sdc_deleted_at is not null "
                               "from vendorx.accounts")
    assert {a for a, deleted in accounts if deleted == "t"} == gone_accounts
    assert {a for a, deleted in accounts if deleted == "f"} == current_accounts
    services = query(postgres, "select account_id, service_id, _sdc_deleted_at is not null "
                               "from vendorx.services")
    assert {(a, s) for a, s, deleted in services if deleted == "f"} == current_services
    assert {(a, s) for a, s, deleted in services if deleted == "t"} == (
        {(r["account_id"], r["service_id"]) for r in listed[0].records["services"]}
        - current_services)
