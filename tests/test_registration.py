"""Every tap is registered once, in taps.json, and everything that lists taps agrees with it.

Adding a vendor (docs/adding-a-vendor.md) is the tap's folder plus its line in taps.json;
the places that cannot read taps.json themselves (pyproject's tool paths, meltano.yml, the
README table, the sandbox) are checked here, so a tap missing from one of them fails.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.registry import ROOT, TAPS, VENDORS, tap_class
from vendor_sandbox import SandboxConfig

PACKAGES = ROOT / "packages"


def test_every_tap_folder_is_registered() -> None:
    folders = {path.name for path in PACKAGES.glob("tap-*") if path.is_dir()}
    assert folders == {tap["name"] for tap in TAPS}, "register every packages/tap-* in taps.json"


def test_registry_entries_are_complete_and_unique() -> None:
    for field in ("vendor", "name", "module", "class", "credential"):
        values = [tap[field] for tap in TAPS]
        assert len(values) == len(set(values)), f"duplicate {field} in taps.json"
    for tap in TAPS:
        assert tap["module"] == tap["name"].replace("-", "_")
        assert (PACKAGES / tap["name"] / tap["module"] / "tap.py").is_file()


@pytest.mark.parametrize("tap", TAPS, ids=VENDORS)
def test_the_tap_is_known_everywhere_that_lists_taps(tap: dict) -> None:
    folder = f"packages/{tap['name']}"
    pyproject = (ROOT / "pyproject.toml").read_text()
    ruff_src = pyproject.split("src = [", 1)[1].split("]", 1)[0]
    mypy_path = pyproject.split("mypy_path = [", 1)[1].split("]", 1)[0]
    assert f'"{folder}"' in ruff_src, f"{folder} missing from [tool.ruff] src"
    assert f'"{folder}"' in mypy_path, f"{folder} missing from [tool.mypy] mypy_path"

    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    extractors = {p["name"] for p in project["plugins"]["extractors"]}
    assert tap["name"] in extractors, "meltano.yml has no extractor for it"
    for environment in project["environments"]:
        configured = {p["name"] for p in environment["config"]["plugins"]["extractors"]}
        assert tap["name"] in configured, f"meltano.yml environment {environment['name']}"

    readme = (ROOT / "README.md").read_text()
    assert f"### {tap['name']}\n" in readme, "README settings table (scripts/settings_tables.py)"

    assert tap_class(tap["vendor"]).name == tap["name"]
    assert shutil.which(tap["name"], path=str(Path(sys.executable).parent)), "console script"
    SandboxConfig(vendor=tap["vendor"])  # the sandbox serves this vendor
    openapi = ROOT / "packages" / "vendor-sandbox" / "vendor_sandbox" / "openapi"
    assert (openapi / f"vendor{tap['vendor']}.yaml").is_file(), "the vendor's OpenAPI document"
