"""Each distribution declares exactly what it imports: nothing missing, nothing extra.

Imports are read from the source (every `import`, top level or inside a function, and the
optional modules a tap loads with `require_extra`), mapped to the distributions that
provide them in this environment, and compared with the pyproject's `dependencies` plus its
optional extras.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(path.parent for path in ROOT.glob("packages/*/pyproject.toml"))


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return canonical(match.group(0))


def imported_modules(package_dir: Path) -> set[str]:
    modules: set[str] = set()
    for source in package_dir.rglob("*.py"):
        tree = ast.parse(source.read_text(), str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
            elif (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "require_extra"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                modules.add(str(node.args[0].value).split(".")[0])
    return modules


def providers() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        found[module] = {canonical(d) for d in dists}
    return found


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_declared_dependencies_are_exactly_the_imports(package):
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    own = {canonical(project["name"])}
    declared = {requirement_name(r) for r in project.get("dependencies", [])}
    for extra in project.get("optional-dependencies", {}).values():
        declared |= {requirement_name(r) for r in extra}
    by_module = providers()
    needed: set[str] = set()
    unknown = []
    for module in imported_modules(package):
        if module in sys.stdlib_module_names or module == "__future__":
            continue
        dists = by_module.get(module, set())
        if not dists:
            unknown.append(module)
        elif not dists & own:
            needed |= dists
    assert unknown == [], f"imports no installed distribution provides: {unknown}"
    assert sorted(needed - declared) == [], "imported but not declared"
    assert sorted(declared - needed) == [], "declared but never imported"


def test_every_distribution_supports_the_same_singer_sdk_range():
    # CI tests both ends of one range (scripts/sdk_floor.py reads the kit's lower bound).
    ranges = {}
    for package in PACKAGES:
        project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
        for requirement in project.get("dependencies", []):
            if requirement_name(requirement) == "singer-sdk":
                ranges[package.name] = requirement
    assert "singer-fanout" in ranges
    assert len(set(ranges.values())) == 1, ranges
