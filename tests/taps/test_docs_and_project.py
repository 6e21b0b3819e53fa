"""The README and meltano.yml say what the taps actually accept."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.registry import CREDENTIAL, VENDORS, tap_class

ROOT = Path(__file__).resolve().parents[2]
SDK_BUILTINS = ("stream_maps", "stream_map_config", "faker_config", "flattening_enabled",
                "flattening_max_depth", "flattening_max_key_length", "flattening_separator",
                "batch_config", "emit_activate_version_messages")


def test_readme_settings_tables_are_generated_from_the_taps():
    check = subprocess.run([sys.executable, "scripts/settings_tables.py", "--check"], cwd=ROOT,
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text().splitlines()
    commands = [line for line in readme[:12] if line.startswith("python3 scripts/dev.py")]
    assert [c.split()[2] for c in commands] == ["demo", "test"]
    assert "scripts/dev.py test" in (ROOT / ".ci/run").read_text()


def test_meltano_yml_and_hub_definitions_are_generated_from_the_plugins():
    check = subprocess.run([sys.executable, "scripts/meltano_plugins.py", "--check"], cwd=ROOT,
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("vendor", VENDORS)
def test_meltano_yml_declares_every_tap_setting_with_its_kind_and_default(vendor):
    tap, secret = tap_class(vendor), CREDENTIAL[vendor]
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    plugin = next(p for p in project["plugins"]["extractors"] if p["name"] == tap.name)
    declared = {s["name"]: s for s in plugin["settings"]}
    # singer-sdk's own settings too: without them Meltano ignores TAP_X_STREAM_MAPS and
    # stores `config set` values of objects as strings.
    accepted = copy.deepcopy(tap.config_jsonschema)
    tap.append_builtin_config(accepted)  # what --about and the config validation add
    assert set(declared) == set(accepted["properties"])
    assert set(SDK_BUILTINS) <= set(declared)
    for name in ("stream_maps", "stream_map_config", "batch_config"):
        assert declared[name]["kind"] == "object", name
    assert declared["account_ids"]["kind"] == "array"
    assert declared["emit_activate_version_messages"]["value"] is False
    assert {"batch", "activate-version"} <= set(plugin["capabilities"])
    assert declared["page_size"] == {**declared["page_size"], "kind": "integer",
                                     "value": tap.vendor.page_size}
    assert declared[secret].get("sensitive") is True
    assert all("sensitive" not in s for n, s in declared.items() if n != secret)
    assert all(s.get("description") for s in declared.values())
    # The tap with its sandbox extra, and the kit and sandbox from this checkout (the
    # registry does not have them yet).
    assert plugin["pip_url"].split() == [
        "-e", "${MELTANO_PROJECT_ROOT}/packages/singer-fanout",
        "-e", "${MELTANO_PROJECT_ROOT}/packages/vendor-sandbox",
        "-e", f"${{MELTANO_PROJECT_ROOT}}/packages/{tap.name}[sandbox]",
    ]
    assert plugin["namespace"]
    assert {"catalog", "discover", "state", "about", "stream-maps"} <= set(plugin["capabilities"])


def test_meltano_yml_has_no_comments_meltano_would_drop():
    # Meltano rewrites the file on `select` / `config set`; explanations live in docs/.
    commented = [line for line in (ROOT / "meltano.yml").read_text().splitlines()
                 if line.lstrip().startswith("#") or " #" in line]
    assert commented == []
    assert "meltano.yml" in (ROOT / "docs/meltano.md").read_text()


def test_meltano_project_settings_for_an_offline_machine():
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    assert project["send_anonymous_usage_stats"] is False
    assert project["cli"]["disable_version_check"] is True
    for kind in ("extractors", "loaders"):
        for plugin in project["plugins"][kind]:
            if "inherit_from" in plugin:
                continue  # shares its parent's namespace, pip_url and venv
            assert plugin.get("namespace"), plugin["name"]
            assert plugin.get("pip_url"), plugin["name"]
    assert {s["job"] for s in project["schedules"]} >= {"vendorx-to-parquet", "vendory-to-parquet"}
