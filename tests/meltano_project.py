"""A throwaway copy of the Meltano project, installed once per test session (e2e and lake)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# What a fresh clone has: the sources, not the developer's venv, state or output.
SKIP = shutil.ignore_patterns(".git", ".venv", ".venv-sdk-floor", ".meltano", "output",
                              "__pycache__", "*.egg-info", ".pytest_cache", ".mypy_cache",
                              ".ruff_cache", "build", "dist")


@dataclass
class MeltanoProject:
    root: Path
    env: dict[str, str]

    def meltano(self, *args: str, env: dict[str, str] | None = None,
                timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "meltano"), *args], cwd=self.root, env={**self.env, **(env or {})},
            capture_output=True, text=True, timeout=timeout, check=False,
        )

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(BIN / "meltano"), *args], cwd=self.root, env={**self.env, **(env or {})},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True,  # so the whole tree (meltano, tap, target) can be killed
        )


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> MeltanoProject:
    root = tmp_path_factory.mktemp("clone") / "project"
    shutil.copytree(REPO, root, ignore=SKIP)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MELTANO_", "TAP_", "TARGET_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    installed = MeltanoProject(root, env)
    result = installed.meltano("install")
    assert result.returncode == 0, result.stderr[-3000:]
    return installed
