"""One entry point for a fresh machine: set up the project, run the demo, run the tests.

    python3 scripts/dev.py demo   # venv + install + meltano run tap-vendorx target-parquet
    python3 scripts/dev.py test   # venv + install + ruff + mypy + pytest (what CI runs), then
                                  # the kit/tap tests on the lowest supported singer-sdk

Only the standard library is used here, because this runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
# Every tap, once (taps.json): the install, mypy and the tests take the list from there.
TAPS = json.loads((ROOT / "taps.json").read_text())["taps"]
# Every distribution of the repository (packages/<dist>/<import_name>/), each installed
# editable with the extras the tests use.
DISTRIBUTIONS = {
    "singer-fanout": ("singer_fanout", ""),
    "vendor-sandbox": ("vendor_sandbox", ""),
    **{tap["name"]: (tap["module"], "[sandbox]") for tap in TAPS},
    "shardrun": ("shardrun", "[dask,prefect]"),
    "target-parquet-lake": ("target_parquet_lake", ""),
}
# The install is skipped when none of these files changed since the last one.
INSTALL_INPUTS = [ROOT / "pyproject.toml", ROOT / "taps.json"] + [
    ROOT / "packages" / dist / "pyproject.toml" for dist in DISTRIBUTIONS
]
STAMP = VENV / ".installed-from"
PYTEST_NO_TESTS_COLLECTED = 5
# Two pytest-xdist workers (CI's two cores); tests/conftest.py keeps tests sharing a fixture
# on one worker, hands the slow ones out first and runs `exclusive` ones alone. Arguments
# after `test` come later and win (`-n 0`: one process, `-n 4`: more workers).
PYTEST_PARALLEL = ["-n", "2", "--dist", "loadgroup", "--no-loadscope-reorder"]


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    printable = " ".join(str(part) for part in cmd)
    print(f"+ {printable}", flush=True)
    completed = subprocess.run([str(part) for part in cmd], cwd=ROOT, env=env, check=False)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def install_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in INSTALL_INPUTS:
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()


def setup() -> None:
    """Create .venv and install every distribution (editable) and the dev tools into it."""
    if sys.version_info < (3, 10):  # noqa: UP036 - this runs on whatever python3 is there
        sys.exit(f"Python >= 3.10 is required, this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"creating virtualenv {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    fingerprint = install_fingerprint()
    if STAMP.exists() and STAMP.read_text() == fingerprint:
        return
    # uv resolves and installs an order of magnitude faster than pip; meltano needs it anyway.
    run(PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "uv")
    editables: list[str] = []
    for dist, (_, extras) in DISTRIBUTIONS.items():
        editables += ["-e", f"packages/{dist}{extras}"]
    # One resolution for all: the taps' dependency on singer-fanout resolves to the local one.
    run(BIN / "uv", "pip", "install", "--python", PY, "--quiet", "-e", ".[dev]", *editables)
    STAMP.write_text(fingerprint)


def ensure_chromium() -> None:
    """Install Debian's chromium for the coverage page test, when missing and we may.

    Only on Linux with apt-get, as root; anywhere else the test skips and says how to get
    a browser. A failed install is reported, not fatal: the rest of the suite still runs.
    """
    if any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")):
        return
    if not sys.platform.startswith("linux") or not shutil.which("apt-get"):
        return
    if getattr(os, "geteuid", lambda: -1)() != 0:
        print("chromium is missing and this is not root: the coverage page test will skip",
              flush=True)
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "chromium"]):
        print(f"+ {' '.join(cmd)}", flush=True)
        if subprocess.run(cmd, env=env, check=False).returncode != 0:
            print("installing chromium failed: the coverage page test will skip", flush=True)
            return


def mypy_targets() -> list[str]:
    return [f"packages/{dist}/{module}" for dist, (module, _) in DISTRIBUTIONS.items()]


def test(extra_args: list[str]) -> None:
    setup()
    ensure_chromium()
    run(BIN / "ruff", "check", ".")
    run(BIN / "mypy", *mypy_targets(), "benchmarks", "scripts")
    completed = subprocess.run([str(PY), "-m", "pytest", *PYTEST_PARALLEL, *extra_args], cwd=ROOT,
                               check=False)
    if completed.returncode == PYTEST_NO_TESTS_COLLECTED:
        sys.exit("pytest collected no tests: that is a failure, not a pass")
    if not extra_args:
        # The other end of the supported singer-sdk range (a focused subset, own venv); run
        # even when the suite failed, so a CI log always says how the floor fares.
        floor = subprocess.run([str(PY), "scripts/sdk_floor.py", *PYTEST_PARALLEL], cwd=ROOT,
                               check=False)
        if completed.returncode == 0 and floor.returncode != 0:
            sys.exit("the tests on the lowest supported singer-sdk failed (see above)")
    sys.exit(completed.returncode)


# What `meltano install` installs from: when none of it changed, the plugin venvs are current
# (the plugins are installed editable, so code changes need no reinstall).
MELTANO_DIR = ROOT / ".meltano"
MELTANO_STAMP = MELTANO_DIR / ".demo-installed-from"
DEMO_PLUGIN_VENVS = [MELTANO_DIR / "extractors" / "tap-vendorx" / "venv",
                     MELTANO_DIR / "loaders" / "target-parquet" / "venv"]


def meltano_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in [ROOT / "meltano.yml", *sorted((ROOT / "meltano").glob("*.meltano.yml")),
                 *INSTALL_INPUTS]:
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()


def ensure_meltano_plugins(env: dict[str, str]) -> None:
    """`meltano install`, unless what it installs from is unchanged since the last one."""
    fingerprint = meltano_fingerprint()
    installed = (MELTANO_STAMP.exists() and MELTANO_STAMP.read_text() == fingerprint
                 and all(venv.is_dir() for venv in DEMO_PLUGIN_VENVS))
    if installed:
        print("Meltano plugins already installed (meltano.yml and the packages unchanged): "
              "not running `meltano install` again", flush=True)
        return
    run(BIN / "meltano", "install", env=env)
    MELTANO_STAMP.parent.mkdir(parents=True, exist_ok=True)
    MELTANO_STAMP.write_text(fingerprint)


def demo() -> None:
    setup()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    ensure_meltano_plugins(env)
    run(BIN / "meltano", "run", "tap-vendorx", "target-parquet", env=env)
    run(PY, "scripts/show_output.py", "output/vendorx", "--job",
        "tap-vendorx-to-target-parquet", env=env)
    show_coverage(env)


def show_coverage(env: dict[str, str]) -> None:
    """Print the lake's gaps and end with where the coverage page is."""
    page = ROOT / "output" / "coverage.html"
    cmd = [str(BIN / "target-parquet-coverage"), "output", "--html", str(page)]
    print(f"+ {' '.join(cmd)}", flush=True)
    # Exit 1 means "the lake has gaps": worth seeing on the page, not a failed demo.
    if subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode > 1:
        sys.exit("the coverage command could not read output/")
    print(f"\nOpen the coverage page (which days each service has; gaps in red): "
          f"{page.as_uri()}")


def main() -> None:
    command, *rest = sys.argv[1:] or ["help"]
    if command == "setup":
        setup()
    elif command == "test":
        test(rest)
    elif command == "demo":
        demo()
    else:
        print(__doc__)
        sys.exit(0 if command == "help" else 2)


if __name__ == "__main__":
    main()
