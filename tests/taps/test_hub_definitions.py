"""hub/: the plugins' definitions in MeltanoHub's plugin format, ready to be proposed.

The rules below are MeltanoHub's plugin-definition schema (common + extractor/loader specific
+ hub metadata + base setting), restated: required keys, the keys each plugin type allows,
the capabilities and setting kinds it knows. Meltano's `decimal` kind is allowed beside them:
Meltano has it and a number setting needs it to reach the plugin as a number.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

SETTING = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "aliases": {"type": "array", "items": {"type": "string"}},
        "label": {"type": "string"},
        "value": {},
        "placeholder": {"type": "string"},
        "kind": {"enum": ["oauth", "hidden", "password", "date_iso8601", "file", "email",
                          "integer", "decimal", "options", "object", "array", "boolean",
                          "string"]},
        "description": {"type": "string"},
        "tooltip": {"type": "string"},
        "documentation": {"type": "string"},
        "protected": {"type": "boolean"},
        "env": {"type": "string"},
        "value_processor": {"enum": ["upcase_string", "nest_object", "stringify"]},
        "value_post_processor": {"enum": ["upcase_string", "nest_object", "stringify"]},
        "options": {"type": "array", "items": {
            "type": "object", "properties": {"label": {"type": "string"}, "value": {}}}},
        "docs": {"type": "string"},
    },
}
COMMON_KEYS = ["name", "pip_url", "variant", "namespace", "label", "description", "executable",
               "settings", "docs", "repo", "logo_url", "hidden", "settings_group_validation",
               "commands", "capabilities", "maintenance_status", "domain_url", "keywords",
               "requires", "definition", "next_steps", "settings_preamble", "usage", "prereq",
               "quality"]
EXTRACTOR_CAPABILITIES = ["properties", "catalog", "discover", "state", "about", "stream-maps",
                          "schema-flattening", "activate-version", "batch", "test", "log-based",
                          "structured-logging"]


def hub_schema(plugin_type: str) -> dict:
    specific = (["metadata", "schema", "select"] if plugin_type == "extractors"
                else ["dialect", "target_schema"])
    properties = {key: {} for key in COMMON_KEYS + specific}
    properties.update({
        "name": {"type": "string"}, "namespace": {"type": "string"},
        "variant": {"type": "string"}, "label": {"type": "string"},
        "pip_url": {"type": "string"}, "executable": {"type": "string"},
        "repo": {"type": "string", "pattern": "^https://"},
        "docs": {"type": "string", "pattern": "^https://"},
        "logo_url": {"type": ["string", "null"]},
        "maintenance_status": {"enum": ["active", "beta", "development", "inactive",
                                        "unknown"]},
        "keywords": {"type": "array", "items": {"type": "string"}},
        "settings": {"type": "array", "items": SETTING},
        "capabilities": {"type": "array", "items": (
            {"enum": EXTRACTOR_CAPABILITIES} if plugin_type == "extractors"
            else {"type": "string"})},
    })
    return {"type": "object", "required": ["name", "namespace", "variant", "label"],
            "additionalProperties": False, "properties": properties}


DEFINITIONS = sorted(ROOT.glob("hub/*/*/*.yml"))


def test_every_plugin_has_a_hub_definition():
    names = {(path.parts[-3], path.parts[-2]) for path in DEFINITIONS}
    assert names >= {("extractors", "tap-vendorx"), ("extractors", "tap-vendory"),
                     ("loaders", "target-parquet")}


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: "/".join(p.parts[-3:]))
def test_hub_definition_is_valid(path):
    definition = yaml.safe_load(path.read_text())
    plugin_type, name, variant_file = path.parts[-3:]
    jsonschema.validate(definition, hub_schema(plugin_type))
    assert definition["name"] == name
    assert f"{definition['variant']}.yml" == variant_file
    # Installs from the package registry, not from a checkout.
    assert not definition["pip_url"].startswith(("-e", "/", "."))
    names = [setting["name"] for setting in definition["settings"]]
    assert len(names) == len(set(names))
    secrets = [s["name"] for s in definition["settings"] if s.get("kind") == "password"]
    if plugin_type == "extractors":
        assert len(secrets) == 1, secrets  # the credential, and only it
        assert "stream_maps" in names
