"""Under `meltano run` the tap's errors read as errors, and each failure has its exit code.

Meltano shows a plugin's log lines at the level it can read from them: the taps declare the
`structured-logging` capability, so Meltano has singer-sdk write JSON log lines and parses
their level. Without it every line of the tap is shown as `[info]`, errors included.

What Meltano (4.4) returns, verified here: 1 ("Extractor failed") for any non-zero tap code
(1 partial failure, 2 configuration, 3 interrupted); when the target dies first, Meltano
kills the tap and reports "Loader failed", also 1. The state the target acknowledged is
saved either way, and the next run resumes from it.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from singer_fanout.dates import utc_today
from vendor_sandbox import SandboxConfig, run_sandbox, truth_records

TOKEN = "errors-test-token-5c1e"
STATE_ID = "dev:tap-vendorx-to-target-parquet:errors"


def lines_of(stderr: str, plugin: str, text: str) -> list[str]:
    return [line for line in stderr.splitlines() if f"] {plugin}" in line and text in line]


@pytest.mark.slow
def test_tap_errors_show_as_errors_and_every_failure_exits_1(project, tmp_path):
    today = utc_today()
    world = SandboxConfig(vendor="x", seed=21, today=today, accounts=3,
                          services_per_account=(2, 2), history_days=10, rate_limit=100_000,
                          token=TOKEN)
    failing = sorted({r["service_id"] for r in truth_records(world) if r["type"] == "metric"})[0]
    blocker = tmp_path / "a-file"
    blocker.write_text("where the target's folder should be")
    with run_sandbox(world.changed(fail_services={failing})) as sandbox:
        env = {
            "TAP_VENDORX_SANDBOX": "false", "TAP_VENDORX_API_URL": sandbox.url,
            "TAP_VENDORX_API_TOKEN": TOKEN, "TAP_VENDORX_MAX_RETRIES": "1",
            "TAP_VENDORX_START_DATE": (today - dt.timedelta(days=8)).isoformat(),
            "TARGET_PARQUET_DESTINATION_PATH": str(tmp_path / "parquet"),
        }
        args = ("run", "--state-id-suffix", "errors", "tap-vendorx", "target-parquet")

        partial = project.meltano(*args, env=env)  # the tap exits 1
        saved = project.meltano("state", "get", STATE_ID)
        bad_setting = project.meltano(*args, env={**env, "TAP_VENDORX_START_DATE": "garbage"})
        target_dies = project.meltano(  # the target cannot start: Meltano stops the tap
            *args, env={**env, "TARGET_PARQUET_DESTINATION_PATH": str(blocker / "parquet")})

    assert partial.returncode == 1, partial.stderr[-3000:]
    failed = lines_of(partial.stderr, "tap-vendorx", "failed partition: stream=metrics")
    assert failed, partial.stderr[-3000:]
    assert all("[error" in line and failing in line for line in failed), failed
    assert all("[info" in line for line in lines_of(partial.stderr, "tap-vendorx",
                                                     "run summary:"))
    assert lines_of(partial.stderr, "meltano", "Extractor failed")
    # What the target acknowledged is saved for the next run, the failed service excepted.
    bookmarks = json.loads(saved.stdout)["singer_state"]["bookmarks"]["metrics"]["partitions"]
    assert bookmarks
    assert failing not in {p["context"]["service_id"] for p in bookmarks}

    assert bad_setting.returncode == 1
    named = lines_of(bad_setting.stderr, "tap-vendorx", "setting 'start_date'")
    assert named, bad_setting.stderr[-3000:]
    assert all("[error" in line for line in named)

    assert target_dies.returncode == 1
    assert lines_of(target_dies.stderr, "meltano", "failed"), target_dies.stderr[-3000:]
