"""The coverage of a lake the loader wrote to object storage (a real S3 API server, moto's,
on loopback) is the coverage of the same files on a local disk; the loader's own
`storage_options` (from its config file) open it as they opened destination_path."""

from __future__ import annotations

import json
import os

import pyarrow.fs as pafs

from tests.coverage.lake_runs import (
    DAY,
    coverage,
    coverage_script,
    days_in_lake,
    expected_status,
    tap_into_loader,
)
from tests.lake.conftest import s3, s3_server  # noqa: F401 - the S3 server fixtures
from tests.taps.conftest import BASE_TODAY, sandbox_config, tap_config
from tests.truth import expected
from vendor_sandbox import run_sandbox

VENDOR = "x"


def test_an_s3_lake_reads_like_its_local_copy(s3, tmp_path):  # noqa: F811 - fixture
    bucket = s3.new_bucket()
    plain = sandbox_config(VENDOR)
    config_window = tap_config(VENDOR, "http://unused")
    first_day = BASE_TODAY - 20 * DAY
    world = expected(plain, first_day, BASE_TODAY - DAY)
    truth = world["metrics"]
    victim = sorted({(account, service) for account, service, _ in truth
                     if world["services"][(account, service)]["deleted_at"] is None})[0]
    # An account whose listing fails on its first run has no service in the lake to mark.
    lost_account = sorted({account for account, _, _ in truth} - {victim[0]})[0]
    with run_sandbox(sandbox_config(VENDOR, fail_services={victim[1]},
                                    fail_accounts={lost_account})) as sandbox:
        config = {**config_window, "api_url": sandbox.url, "max_retries": 0}
        run = tap_into_loader(VENDOR, config, tmp_path / "runs", tmp_path,
                              destination=f"s3://{bucket}/lake/vendor{VENDOR}")
    assert run.tap_returncode == 1, run.tap_stderr[-3000:]
    summary = f"vendor{VENDOR}={tmp_path / 'runs' / f'vendor{VENDOR}' / '_run_summary.json'}"

    on_s3 = coverage(f"s3://{bucket}/lake", "--summary", summary)
    local = tmp_path / "copy"
    pafs.copy_files(f"{bucket}/lake", str(local), source_filesystem=s3.filesystem())
    on_disk = coverage(local, "--summary", summary)

    assert on_s3.returncode == on_disk.returncode == 1, on_s3.stdout + on_s3.stderr
    assert on_s3.stdout.splitlines()[0] == f"coverage of s3://{bucket}/lake"
    assert on_s3.stdout.splitlines()[1:] == on_disk.stdout.splitlines()[1:]
    # The failed service never landed a day: all of its vendor's range is missing.
    status = expected_status(days_in_lake(local, VENDOR), failed={victim})
    days = sorted(d for d in status[victim] if status[victim][d] == "missing")
    assert victim not in days_in_lake(local, VENDOR)
    row = f"{victim[0]} {victim[1]} {days[0]}..{days[-1]} {len(days)} missing failed in"
    assert any(" ".join(line.split()).startswith(row) for line in on_s3.stdout.splitlines()), (
        on_s3.stdout)
    assert (f"  failed in the last run, no service of it in the lake: services "
            f"account_id={lost_account}: PartitionError: ") in on_s3.stdout
    assert "1 failed partition(s) the lake cannot place" in on_s3.stdout.splitlines()[-1]

    # The loader's config file alone (no AWS environment) opens the same lake; its
    # secret never shows.
    loader_config = tmp_path / "target.json"
    loader_config.write_text(json.dumps({
        "destination_path": f"s3://{bucket}/lake",
        "storage_options": {"endpoint_override": s3.endpoint, "access_key": s3.access_key,
                            "secret_key": s3.secret_key, "region": "us-east-1"},
    }))
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    from_config = coverage_script("--config", loader_config, "--summary", summary,
                                  env=clean_env)
    assert from_config.returncode == 1, from_config.stderr
    assert from_config.stdout.splitlines() == on_s3.stdout.splitlines()
    assert s3.secret_key not in from_config.stdout + from_config.stderr
