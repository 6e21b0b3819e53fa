"""A target that stops reading (it crashed, or closed its input): the tap says so and stops.

The tap's stdout becomes a broken pipe. The tap logs "the target stopped reading", writes
its summary (outcome `target_stopped_reading`) and exits 4, promptly: it does not go on
fetching partitions nobody will receive.
"""

from __future__ import annotations

import json
import subprocess
import time

from tests.chaos.configs import SLOW, chaos_config
from tests.tap_runner import BIN
from tests.taps.conftest import sandbox_config
from vendor_sandbox import run_sandbox

EXIT_TARGET_STOPPED_READING = 4


def test_a_target_that_stops_reading_is_named_and_the_summary_written(vendor, tmp_path):
    summary_path = tmp_path / "summary.json"
    with run_sandbox(sandbox_config(vendor, **SLOW[vendor])) as sandbox:
        config = chaos_config(vendor, sandbox.url, summary_path=str(summary_path),
                              max_concurrency=2)
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps(config))
        tap = subprocess.Popen([str(BIN / f"tap-vendor{vendor}"), "--config", str(config_file)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert tap.stdout is not None
        first = tap.stdout.readline()  # the target read one message, then went away
        tap.stdout.close()
        started = time.monotonic()
        _, stderr_bytes = tap.communicate(timeout=60)
        stopped_in = time.monotonic() - started
    stderr = stderr_bytes.decode()
    assert json.loads(first)["type"] == "SCHEMA"
    assert tap.returncode == EXIT_TARGET_STOPPED_READING, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if "ERROR" in line]
    assert any("the target stopped reading" in line for line in errors), stderr[-3000:]
    assert "Traceback" not in stderr
    summary = json.loads(summary_path.read_text())
    assert summary["outcome"] == "target_stopped_reading"
    assert "the target stopped reading" in summary["fatal_error"]
    # It stopped instead of hanging on a pipe nobody reads.
    assert stopped_in < 30
