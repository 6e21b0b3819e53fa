"""Running target-parquet-compact for real (its console script), or killed at a chosen step.

The kill is a real SIGKILL of the compaction process, sent by the process itself at the
n-th step of a kind, so nothing in the compactor (no `finally`, no `except`) runs after it:
  * `mid-write`: a local file is written to its hidden temp name, not yet renamed;
  * `written`: a new file has just become visible;
  * `deleted`: an old file has just been deleted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
_KILLER = """
import os, signal, sys
from target_parquet_lake import local_files, storage
from target_parquet_lake.compact_cli import main

kind, at = sys.argv[1], int(sys.argv[2])
seen = 0

def step(name):
    global seen
    if name == kind:
        seen += 1
        if seen == at:
            os.kill(os.getpid(), signal.SIGKILL)

write, delete, rename = storage.Lake.write_parquet, storage.Lake.delete, local_files.os.replace

def write_then_step(self, *args, **kwargs):
    write(self, *args, **kwargs)
    step("written")

def delete_then_step(self, path):
    delete(self, path)
    step("deleted")

def step_then_rename(src, dst):
    step("mid-write")
    rename(src, dst)

storage.Lake.write_parquet = write_then_step
storage.Lake.delete = delete_then_step
local_files.os.replace = step_then_rename
sys.exit(main(sys.argv[3:]))
"""


def write_config(workdir: Path, config: dict[str, Any]) -> Path:
    path = workdir / "compact-config.json"
    path.write_text(json.dumps(config))
    return path


def compact(config: Path, *args: str, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "target-parquet-compact"), "--config", str(config), *args],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, **(env or {})},
    )


def compact_from_env(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`target-parquet-compact --config ENV`: settings from TARGET_PARQUET_* variables."""
    return subprocess.run(
        [str(BIN / "target-parquet-compact"), "--config", "ENV", *args],
        capture_output=True, text=True, timeout=300, check=False, env={**os.environ, **env},
    )


def compact_killed(config: Path, kind: str, at: int) -> subprocess.CompletedProcess[str]:
    """Compaction SIGKILLed at the `at`-th step of `kind`; asserts it was killed there."""
    result = subprocess.run(
        [sys.executable, "-c", _KILLER, kind, str(at), "--config", str(config)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == -signal.SIGKILL, (result.returncode, result.stderr[-2000:])
    return result
