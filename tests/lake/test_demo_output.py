"""What the demo prints after its run: rows and distinct keys labelled apart, and a query
command that runs as printed and gives the latest row per key; and a second demo run that
installs nothing again."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

from tests.lake.lake_io import run_target
from tests.lake.test_s3_target import messages, rows

SHOW_OUTPUT = Path(__file__).resolve().parents[2] / "scripts" / "show_output.py"


def test_rows_with_reemitted_days_and_distinct_keys_are_told_apart_and_the_query_runs(
    tmp_path,
):
    lake = tmp_path / "output" / "vendorx"
    config = {"destination_path": str(lake), "partition_cols": "date"}
    # Three runs, the later ones re-emitting (revising) keys the first loaded.
    run_target(config, messages(rows(12)))
    run_target(config, messages(rows(8, requests_offset=100)))
    run_target(config, messages(rows(4, requests_offset=200)))

    shown = subprocess.run([sys.executable, str(SHOW_OUTPUT), "output/vendorx", "--job",
                            "tap-vendorx-to-target-parquet"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0, shown.stderr[-3000:]
    out = shown.stdout
    assert re.search(r"stream\s+rows\s+distinct keys\s+files\s+keys", out), out
    files = len(list((lake / "metrics").rglob("*.parquet")))
    assert re.search(rf"metrics\s+24\s+12\s+{files}\s+account_id, service_id, date", out), out
    assert "so rows grow from run to run" in out
    assert "python3 scripts/dev.py demo" in out
    assert "meltano state get dev:tap-vendorx-to-target-parquet" in out

    # The printed query, run as printed from the same folder, shows the latest values.
    (command,) = [line.strip() for line in out.splitlines() if "import duckdb" in line]
    queried = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True,  # noqa: S602
                             text=True, timeout=120, check=False)
    assert queried.returncode == 0, queried.stderr[-3000:]
    shown_requests = {int(n) for n in re.findall(r"│\s+s(\d+)\s+│", queried.stdout)}
    assert shown_requests, queried.stdout
    for line in queried.stdout.splitlines():
        found = re.search(r"│\s+s(\d+)\s+│\s+(\d+)\s+│", line)
        if found:
            service = int(found.group(1))
            latest = service + (200 if service < 4 else 100 if service < 8 else 0)
            assert int(found.group(2)) == latest, line


def _dev_script():
    spec = importlib.util.spec_from_file_location("dev_script", SHOW_OUTPUT.parent / "dev.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_second_demo_run_does_not_reinstall_the_meltano_plugins(tmp_path, monkeypatch):
    dev = _dev_script()
    commands: list[tuple[str, ...]] = []
    venvs = [tmp_path / "extractors" / "tap-vendorx" / "venv",
             tmp_path / "loaders" / "target-parquet" / "venv"]

    def meltano_install(*cmd, env=None):
        commands.append(tuple(str(part) for part in cmd[1:]))
        for venv in venvs:  # what a real `meltano install` leaves behind
            venv.mkdir(parents=True, exist_ok=True)

    monkeypatch.setattr(dev, "run", meltano_install)
    monkeypatch.setattr(dev, "MELTANO_STAMP", tmp_path / ".demo-installed-from")
    monkeypatch.setattr(dev, "DEMO_PLUGIN_VENVS", venvs)

    dev.ensure_meltano_plugins({})
    dev.ensure_meltano_plugins({})  # the second demo run: nothing changed
    assert commands == [("install",)]
    # A plugin venv gone (a cleaned .meltano): installed again.
    venvs[0].rmdir()
    dev.ensure_meltano_plugins({})
    assert commands == [("install",), ("install",)]
    # meltano.yml or a package's pyproject.toml changed: installed again.
    monkeypatch.setattr(dev, "meltano_fingerprint", lambda: "changed")
    dev.ensure_meltano_plugins({})
    assert commands == [("install",)] * 3
