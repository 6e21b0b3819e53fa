"""Run a tap for real (its console script, in a subprocess) and read its Singer output."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


@dataclass
class TapRun:
    returncode: int
    stderr: str
    stdout: str
    messages: list[dict[str, Any]]
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    states: list[dict[str, Any]] = field(default_factory=list)

    @property
    def final_state(self) -> dict[str, Any]:
        return self.states[-1] if self.states else {}

    def bookmarks(self, stream: str = "metrics") -> dict[tuple[str, str], str]:
        partitions = self.final_state.get("bookmarks", {}).get(stream, {}).get("partitions", [])
        return {
            (p["context"]["account_id"], p["context"]["service_id"]): p["replication_key_value"]
            for p in partitions
        }


def parse_output(stdout: str) -> tuple[list[dict[str, Any]], dict[str, list[dict]], list[dict]]:
    messages = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    records: dict[str, list[dict[str, Any]]] = defaultdict(list)
    states = []
    for message in messages:
        if message["type"] == "RECORD":
            records[message["stream"]].append(message["record"])
        elif message["type"] == "STATE":
            states.append(message["value"])
    return messages, dict(records), states


def run_tap(
    vendor: str,
    config: dict[str, Any],
    tmp_path: Path,
    *,
    state: dict[str, Any] | None = None,
    timeout: float = 180,
    extra_args: tuple[str, ...] = (),
) -> TapRun:
    config_file = tmp_path / f"config-{vendor}.json"
    config_file.write_text(json.dumps(config))
    cmd = [str(BIN / f"tap-vendor{vendor}"), "--config", str(config_file), *extra_args]
    if state is not None:
        state_file = tmp_path / f"state-{vendor}.json"
        state_file.write_text(json.dumps(state))
        cmd += ["--state", str(state_file)]
    completed = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    messages, records, states = parse_output(completed.stdout)
    return TapRun(completed.returncode, completed.stderr, completed.stdout, messages, records,
                  states)
