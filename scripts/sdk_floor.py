"""The kit and tap tests against the lowest singer-sdk the packages accept.

    python3 scripts/sdk_floor.py [pytest args]

`python3 scripts/dev.py test` runs the whole suite on the newest singer-sdk the range allows
(the .venv), then this: a second venv (.venv-sdk-floor) with the lowest supported minor
release (the newest patch of it) and a focused subset, so CI tests both ends of the range.
The floor is read from packages/singer-fanout/pyproject.toml; every package pins the same range.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_BIN = ROOT / ".venv" / "bin"
FLOOR_VENV = ROOT / ".venv-sdk-floor"
FLOOR_PY = FLOOR_VENV / "bin" / "python"
# What touches the SDK: the kit's units and seam checks, the taps' sync and SDK features,
# the SDK's own standard tap tests.
FOCUSED_TESTS = ["tests/singer_fanout", "tests/taps/test_sync.py", "tests/taps/test_standard.py",
                 "tests/taps/test_sdk_features.py"]
TEST_TOOLS = ["pytest>=8,<9.2", "pytest-timeout>=2.3", "pytest-xdist>=3.5", "pyyaml>=6",
              "requests>=2.31", "jsonschema>=4.16", "pyarrow>=15"]
PYTEST_NO_TESTS_COLLECTED = 5


def lowest_supported_sdk() -> str:
    text = (ROOT / "packages/singer-fanout/pyproject.toml").read_text()
    found = re.search(r'"singer-sdk>=([0-9]+\.[0-9]+)', text)
    if not found:
        sys.exit("packages/singer-fanout/pyproject.toml names no singer-sdk lower bound")
    return found.group(1)


def run(*cmd: str | Path) -> None:
    print("+ " + " ".join(str(part) for part in cmd), flush=True)
    if subprocess.run([str(part) for part in cmd], cwd=ROOT, check=False).returncode != 0:
        sys.exit(1)


def main() -> None:
    floor = lowest_supported_sdk()
    uv = DEV_BIN / "uv"
    if not FLOOR_PY.exists():
        run(uv, "venv", "--quiet", "--python", DEV_BIN / "python", FLOOR_VENV)
    taps = json.loads((ROOT / "taps.json").read_text())["taps"]
    # The loader too: it is on singer-sdk as well, and the SDK-feature tests pipe the taps'
    # BATCH output into it.
    editables = ["-e", "packages/singer-fanout", "-e", "packages/vendor-sandbox",
                 "-e", "packages/target-parquet-lake"]
    for tap in taps:
        editables += ["-e", f"packages/{tap['name']}[sandbox]"]
    # `~=0.53.0`: the newest patch release of the lowest supported minor release.
    run(uv, "pip", "install", "--quiet", "--python", FLOOR_PY, *editables, *TEST_TOOLS,
        f"singer-sdk~={floor}.0")
    installed = subprocess.run(
        [str(FLOOR_PY), "-c", "import importlib.metadata as m; print(m.version('singer-sdk'))"],
        capture_output=True, text=True, check=True).stdout.strip()
    print(f"singer-sdk {installed} (the lowest supported, >={floor})", flush=True)
    completed = subprocess.run(
        [str(FLOOR_PY), "-m", "pytest", "-q", "-p", "no:cacheprovider", *FOCUSED_TESTS,
         *sys.argv[1:]], cwd=ROOT, check=False)
    if completed.returncode == PYTEST_NO_TESTS_COLLECTED:
        sys.exit("pytest collected no tests: that is a failure, not a pass")
    sys.exit(completed.returncode)


if __name__ == "__main__":
    main()
