"""Generate the Meltano plugin definitions of our taps and loader from their `--about`.

    python scripts/meltano_plugins.py            # rewrite meltano.yml's definitions and hub/
    python scripts/meltano_plugins.py --check    # exit 1 when either is out of date
    python scripts/meltano_plugins.py --check --meltano-yml PATH   # check another project file

Every setting a plugin accepts (its own and singer-sdk's built-in ones: stream_maps,
flattening_*, batch_config, ...) gets `kind`, `value` (the default), `label`, `description`
and `sensitive`, so `meltano config list` shows real defaults and `meltano config set` or a
`TAP_VENDORX_STREAM_MAPS` env var reach the plugin with the right type (objects and arrays
are parsed as JSON). Only the generated keys of each plugin are rewritten; `config`,
`select`, `metadata` and the rest of meltano.yml are left as they are (Meltano rewrites the
file too, on `meltano select` and `meltano config set`; it keeps these keys).

The hub/ files are the same definitions in MeltanoHub's plugin format, installing from the
package registry instead of this checkout.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
MELTANO_YML = ROOT / "meltano.yml"
HUB_DIR = ROOT / "hub"
# The address the registry pages and hub definitions point at; change it here when it moves.
REPO_URL = "https://github.com/vendor-usage-taps/vendor-usage-taps"
HUB_VARIANT = "vendor-usage-taps"
PACKAGES = "${MELTANO_PROJECT_ROOT}/packages"
# Keys this script owns in each plugin's meltano.yml definition.
GENERATED_KEYS = ("namespace", "pip_url", "executable", "capabilities", "settings")


@dataclass(frozen=True)
class Plugin:
    plugin_type: str  # extractors | loaders
    name: str  # the Meltano plugin name, which is also the executable
    distribution: str
    namespace: str
    label: str
    # Distributions from this checkout that pip_url installs beside this one (the registry
    # does not have them yet), and the extra the plugin is installed with.
    local_requirements: tuple[str, ...] = ()
    extra: str = ""
    keywords: tuple[str, ...] = ()

    @property
    def pip_url(self) -> str:
        paths = [f"{PACKAGES}/{dist}" for dist in self.local_requirements]
        paths.append(f"{PACKAGES}/{self.distribution}{self.extra}")
        return " ".join(f"-e {path}" for path in paths)

    @property
    def hub_pip_url(self) -> str:
        return f"{self.distribution}{self.extra}"


def _tap_plugin(tap: dict[str, Any]) -> Plugin:
    label = tap["class"].removeprefix("Tap")  # TapVendorX -> VendorX
    return Plugin("extractors", tap["name"], tap["name"], tap["module"], label,
                  ("singer-fanout", "vendor-sandbox"), "[sandbox]",
                  ("usage", "billing", tap["name"].removeprefix("tap-")))


# Every tap of the repository (taps.json), and the loader.
PLUGINS = (
    *(_tap_plugin(tap) for tap in json.loads((ROOT / "taps.json").read_text())["taps"]),
    Plugin("loaders", "target-parquet", "target-parquet-lake", "target_parquet_lake",
           "Parquet", keywords=("parquet", "file", "data lake")),
)

# JSON numbers are declared `integer`, not `decimal`: Meltano 4.4 turns a `decimal` setting
# given as an environment variable (TAP_VENDORX_REQUEST_TIMEOUT=5) into a Decimal and then
# crashes writing the plugin's config ("Object of type Decimal is not JSON serializable"),
# so `meltano run` fails. Every number setting here is seconds or a rate, where whole
# numbers serve; the taps themselves still accept fractions (docs/meltano.md says so).
JSON_TYPE_TO_KIND = {
    "string": "string",
    "integer": "integer",
    "number": "integer",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}


def about(plugin: Plugin) -> dict[str, Any]:
    executable = Path(sys.executable).parent / plugin.name
    completed = subprocess.run([str(executable), "--about", "--format=json"],
                               capture_output=True, text=True, check=True)
    parsed: dict[str, Any] = json.loads(completed.stdout)
    return parsed


def _json_type(schema: dict[str, Any]) -> str:
    types = schema.get("type", "string")
    if isinstance(types, str):
        return types
    non_null = [t for t in types if t != "null"]
    return non_null[0] if non_null else "string"


def _label(name: str, schema: dict[str, Any]) -> str:
    if schema.get("title"):
        return str(schema["title"])
    words = name.replace("_", " ").split()
    acronyms = {"api": "API", "url": "URL", "ids": "IDs", "id": "ID", "ca": "CA", "http": "HTTP"}
    label = " ".join(acronyms.get(word, word) for word in words) or name
    return label[0].upper() + label[1:]


def setting(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """One Meltano setting definition from one JSON-schema property of `--about`.

    Keys in the order Meltano writes them, so its rewrites of meltano.yml change nothing.
    """
    entry: dict[str, Any] = {"name": name}
    if "enum" in schema:
        entry["kind"] = "options"
    else:
        entry["kind"] = JSON_TYPE_TO_KIND.get(_json_type(schema), "string")
    if "default" in schema:
        entry["value"] = schema["default"]
    entry["label"] = _label(name, schema)
    if schema.get("description"):
        entry["description"] = schema["description"]
    if schema.get("secret"):
        entry["sensitive"] = True
    if "enum" in schema:
        entry["options"] = [{"label": str(v), "value": v} for v in schema["enum"]
                            if v is not None]
    return entry


def settings_of(described: dict[str, Any]) -> list[dict[str, Any]]:
    properties = described["settings"]["properties"]
    return [setting(name, schema) for name, schema in properties.items()]


def meltano_definition(plugin: Plugin, described: dict[str, Any]) -> dict[str, Any]:
    return {
        "namespace": plugin.namespace,
        "pip_url": plugin.pip_url,
        "executable": plugin.name,
        "capabilities": list(described["capabilities"]),
        "settings": settings_of(described),
    }


def hub_definition(plugin: Plugin, described: dict[str, Any]) -> dict[str, Any]:
    hub_settings = []
    for entry in settings_of(described):
        hub_entry = dict(entry)
        # MeltanoHub's setting format has no `sensitive`: a secret is `kind: password`.
        if hub_entry.pop("sensitive", False):
            hub_entry["kind"] = "password"
        hub_settings.append(hub_entry)
    definition: dict[str, Any] = {
        "name": plugin.name,
        "variant": HUB_VARIANT,
        "namespace": plugin.namespace,
        "label": plugin.label,
        "description": described.get("description") or plugin.label,
        "pip_url": plugin.hub_pip_url,
        "executable": plugin.name,
        "repo": REPO_URL,
        "docs": f"{REPO_URL}/tree/main/packages/{plugin.distribution}#readme",
        "logo_url": None,
        "maintenance_status": "active",
        "keywords": ["meltano_sdk", *plugin.keywords],
        "capabilities": list(described["capabilities"]),
        "settings": hub_settings,
    }
    return definition


def hub_path(plugin: Plugin) -> Path:
    return HUB_DIR / plugin.plugin_type / plugin.name / f"{HUB_VARIANT}.yml"


def _yaml() -> YAML:
    # Meltano's own dumper settings, so its rewrites of meltano.yml change little.
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    return yaml


def _dump(data: Any) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def _find(project: Any, plugin: Plugin) -> Any:
    for entry in project["plugins"][plugin.plugin_type]:
        if entry["name"] == plugin.name:
            return entry
    raise SystemExit(f"meltano.yml has no {plugin.plugin_type} plugin named {plugin.name}")


def generated() -> dict[Plugin, dict[str, Any]]:
    return {plugin: about(plugin) for plugin in PLUGINS}


def write(described: dict[Plugin, dict[str, Any]]) -> None:
    yaml = _yaml()
    project = yaml.load(MELTANO_YML.read_text())
    for plugin, info in described.items():
        entry = _find(project, plugin)
        generated_keys = meltano_definition(plugin, info)
        # Meltano's order: name, the generated keys, then the project's own (config, ...).
        rest = sorted(((key, value) for key, value in entry.items()
                       if key != "name" and key not in generated_keys),
                      key=lambda item: item[0] != "config")  # config before the extras
        for key in list(entry):
            if key != "name":
                del entry[key]
        for key, value in [*generated_keys.items(), *rest]:
            entry[key] = value
        path = hub_path(plugin)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_dump(hub_definition(plugin, info)))
    MELTANO_YML.write_text(_dump(project))


def drift(described: dict[Plugin, dict[str, Any]], meltano_yml: Path = MELTANO_YML) -> list[str]:
    """What differs between the files and what the plugins say (by meaning, not layout)."""
    problems = []
    project = YAML(typ="safe").load(meltano_yml.read_text())
    for plugin, info in described.items():
        entry = _find(project, plugin)
        for key, value in meltano_definition(plugin, info).items():
            if entry.get(key) != value:
                problems.append(f"meltano.yml: {plugin.name}: `{key}` is not what --about says")
        path = hub_path(plugin)
        on_disk = YAML(typ="safe").load(path.read_text()) if path.exists() else None
        if on_disk != hub_definition(plugin, info):
            problems.append(f"{path.relative_to(ROOT)} is out of date")
    return problems


def main() -> None:
    described = generated()
    if "--check" in sys.argv:
        meltano_yml = MELTANO_YML
        if "--meltano-yml" in sys.argv:
            meltano_yml = Path(sys.argv[sys.argv.index("--meltano-yml") + 1])
        problems = drift(described, meltano_yml)
        if problems:
            sys.exit("\n".join([*problems, "run: python scripts/meltano_plugins.py"]))
        return
    write(described)


if __name__ == "__main__":
    main()
