"""One tap installs alone from its wheel, into a fresh venv, and runs.

Builds the wheels of the kit, the sandbox and tap-vendorx, installs `tap-vendorx` into a new
venv (nothing of this checkout on its path), checks that nothing else came along, that
`sandbox: true` without the extra names the extra, then adds `[sandbox]` and runs `--about`
and a sandbox sync.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"
# Never in a tap's install: the other taps, the shard runner, Dask, the loader.
NOT_WITH_A_TAP = {"tap-vendory", "tap-vendorz", "shardrun", "dask", "distributed",
                  "target-parquet-lake", "pyarrow"}


def sh(*cmd: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in cmd], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)


def installed(python: Path) -> set[str]:
    listed = sh(UV, "pip", "list", "--python", python, "--format", "json")
    assert listed.returncode == 0, listed.stderr
    return {entry["name"].lower().replace("_", "-") for entry in json.loads(listed.stdout)}


@pytest.mark.slow
def test_tap_wheel_installs_alone_and_syncs_the_sandbox(tmp_path):
    dist = tmp_path / "dist"
    for package in ("singer-fanout", "vendor-sandbox", "tap-vendorx"):
        # A copy: setuptools writes build/ and *.egg-info into the source folder, which
        # the tests running alongside (editable Meltano installs) write and read too.
        source = shutil.copytree(ROOT / "packages" / package, tmp_path / "src" / package,
                                 ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                               "__pycache__"))
        built = sh(UV, "build", "--wheel", "--quiet", "--out-dir", dist, source)
        assert built.returncode == 0, built.stderr[-2000:]
    wheels = sorted(path.name for path in dist.glob("*.whl"))
    assert [name.split("-")[0] for name in wheels] == ["singer_fanout", "tap_vendorx",
                                                      "vendor_sandbox"]
    venv = tmp_path / "venv"
    assert sh(UV, "venv", "--quiet", "--python", sys.executable, venv).returncode == 0
    python, bin_dir = venv / "bin" / "python", venv / "bin"

    alone = sh(UV, "pip", "install", "--quiet", "--python", python, "--find-links", dist,
               "tap-vendorx")
    assert alone.returncode == 0, alone.stderr[-2000:]
    packages = installed(python)
    assert {"tap-vendorx", "singer-fanout", "singer-sdk", "urllib3"} <= packages
    assert packages & (NOT_WITH_A_TAP | {"vendor-sandbox"}) == set()

    config = tmp_path / "config.json"
    start = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=3)).isoformat()
    config.write_text(json.dumps({"sandbox": True, "start_date": start}))
    missing = sh(bin_dir / "tap-vendorx", "--config", config, cwd=tmp_path)
    assert missing.returncode == 2
    assert "pip install 'tap-vendorx[sandbox]'" in missing.stderr
    assert "RECORD" not in missing.stdout

    extra = sh(UV, "pip", "install", "--quiet", "--python", python, "--find-links", dist,
               "tap-vendorx[sandbox]")
    assert extra.returncode == 0, extra.stderr[-2000:]
    assert installed(python) & NOT_WITH_A_TAP == set()
    about = sh(bin_dir / "tap-vendorx", "--about", "--format=json", cwd=tmp_path)
    assert about.returncode == 0, about.stderr[-2000:]
    described = json.loads(about.stdout)
    assert described["name"] == "tap-vendorx"
    assert described["version"] == "0.1.0"  # read from the installed distribution
    assert "stream_maps" in described["settings"]["properties"]

    synced = sh(bin_dir / "tap-vendorx", "--config", config, cwd=tmp_path)
    assert synced.returncode == 0, synced.stderr[-3000:]
    streams = {json.loads(line)["stream"] for line in synced.stdout.splitlines()
               if '"type":"RECORD"' in line}
    assert streams == {"accounts", "services", "metrics"}
    # The venv's code, not this checkout's.
    where = sh(python, "-c", "import singer_fanout; print(singer_fanout.__file__)", cwd=tmp_path)
    assert str(venv) in where.stdout
