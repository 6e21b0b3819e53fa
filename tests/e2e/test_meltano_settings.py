"""Every setting visible and settable from Meltano; meltano.yml intact after Meltano edits it."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as ds
import pytest
import yaml

from singer_fanout.dates import utc_today

# Meltano runs in the session's installed project: tens of seconds per test.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DROP_BANDWIDTH = '{"metrics": {"bandwidth_bytes": null}}'
# `meltano config set` drops nulls nested in an object; singer-sdk's `__NULL__` means the same.
DROP_BANDWIDTH_STORED = '{"metrics": {"bandwidth_bytes": "__NULL__"}}'


@pytest.fixture
def restored(project):
    """The shared project, with meltano.yml and .env put back afterwards."""
    files = [project.root / "meltano.yml", project.root / ".env"]
    saved = {path: path.read_text() if path.exists() else None for path in files}
    yield project
    for path, text in saved.items():
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text)


def test_config_list_shows_every_default(project):
    listed = project.meltano("config", "list", "--all", "tap-vendorx")
    assert listed.returncode == 0, listed.stderr[-2000:]
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()
             if line.strip() and not line.startswith(("\t", " "))}
    for name, value in (("page_size", "100"), ("max_concurrency", "16"), ("lookback_days", "0"),
                        ("api_url", "https://api.vendorx.com")):
        assert value in lines[name], lines[name]
        assert "None" not in lines[name], lines[name]
    assert "stream_maps" in lines
    assert "False (default)" in lines["emit_activate_version_messages"]
    assert "batch_config" in lines


def test_select_and_config_set_keep_meltano_yml_correct(restored):
    project = restored
    for args in (("select", "tap-vendorx", "metrics", "*"),
                 ("config", "set", "tap-vendorx", "stream_maps", DROP_BANDWIDTH_STORED),
                 ("config", "set", "tap-vendorx", "page_size", "50")):
        done = project.meltano(*args)
        assert done.returncode == 0, (args, done.stderr[-2000:])
    check = subprocess.run(
        [sys.executable, "scripts/meltano_plugins.py", "--check", "--meltano-yml",
         str(project.root / "meltano.yml")],
        cwd=REPO, capture_output=True, text=True, check=False,
    )
    assert check.returncode == 0, check.stderr
    written = yaml.safe_load((project.root / "meltano.yml").read_text())
    tap = next(p for p in written["plugins"]["extractors"] if p["name"] == "tap-vendorx")
    assert tap["select"] == ["metrics.*"]
    # An object, not a string that would break the tap.
    assert tap["config"]["stream_maps"] == {"metrics": {"bandwidth_bytes": "__NULL__"}}
    assert tap["config"]["page_size"] == 50
    dumped = project.meltano("invoke", "--dump=config", "tap-vendorx")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    config = json.loads(dumped.stdout)
    assert config["stream_maps"] == {"metrics": {"bandwidth_bytes": "__NULL__"}}
    assert config["page_size"] == 50


def test_stream_maps_from_the_environment_drop_the_column(project, tmp_path):
    env = {
        "TAP_VENDORX_STREAM_MAPS": DROP_BANDWIDTH,
        "TAP_VENDORX_START_DATE": (utc_today() - dt.timedelta(days=3)).isoformat(),
        "TAP_VENDORX_SUMMARY_PATH": str(tmp_path / "summary.json"),
        "TARGET_PARQUET_DESTINATION_PATH": str(tmp_path / "out"),
    }
    run = project.meltano("run", "--no-state-update", "--full-refresh", "tap-vendorx",
                          "target-parquet", env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    columns = ds.dataset(tmp_path / "out" / "metrics", format="parquet").schema.names
    assert "bandwidth_bytes" not in columns
    assert {"requests", "errors_5xx", "account_id", "service_id", "date"} <= set(columns)
