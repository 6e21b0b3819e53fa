"""Run a tap as a real subprocess and act on it mid-run: read its messages as they come,
then kill it (SIGKILL), stop it (SIGTERM) or let it finish.

Every Singer message is flushed by the tap as it is written, so what has been read here is
what a downstream target would have received by then. A line the tap was killed in the
middle of writing has no newline and is dropped, as a target would drop it.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.tap_runner import BIN, TapRun, parse_output

Message = dict[str, Any]
# Generous: a tap that hangs fails the test instead of hanging the suite.
DEADLINE_S = 120.0


class LiveTap:
    def __init__(
        self,
        vendor: str,
        config: dict[str, Any],
        workdir: Path,
        *,
        state: dict[str, Any] | None = None,
        name: str = "run",
        env: dict[str, str] | None = None,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        config_file = workdir / f"{name}-config.json"
        config_file.write_text(json.dumps(config))
        cmd = [str(BIN / f"tap-vendor{vendor}"), "--config", str(config_file)]
        if state is not None:
            state_file = workdir / f"{name}-state.json"
            state_file.write_text(json.dumps(state))
            cmd += ["--state", str(state_file)]
        self.process = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})},
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stdout: list[str] = []  # complete lines, in order
        self._stderr: list[str] = []
        self.messages: list[Message] = []  # parsed so far, in order
        self._readers = [
            threading.Thread(target=self._pump_stdout, daemon=True),
            threading.Thread(target=self._pump_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self._eof = False

    def _pump_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _pump_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)

    def read_until(self, wanted: Callable[[Message, list[Message]], bool]) -> bool:
        """Read messages until `wanted(message, messages so far)` holds; False at the end."""
        while not self._eof:
            try:
                line = self._lines.get(timeout=DEADLINE_S)
            except queue.Empty:
                raise AssertionError("the tap wrote nothing for too long") from None
            if line is None:
                self._eof = True
                return False
            if not line.endswith("\n"):
                continue  # cut off by a kill: never a message
            self._stdout.append(line)
            message = json.loads(line)
            self.messages.append(message)
            if wanted(message, self.messages):
                return True
        return False

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def kill(self) -> None:
        self.send(signal.SIGKILL)

    def finish(self) -> TapRun:
        """Read what is left, wait for the exit and return the run as `run_tap` would."""
        self.read_until(lambda _message, _messages: False)
        returncode = self.process.wait(timeout=DEADLINE_S)
        for reader in self._readers:
            reader.join(timeout=DEADLINE_S)
        stdout = "".join(self._stdout)
        messages, records, states = parse_output(stdout)
        return TapRun(returncode, "".join(self._stderr), stdout, messages, records, states)


def is_record(stream: str) -> Callable[[Message, list[Message]], bool]:
    def wanted(message: Message, _messages: list[Message]) -> bool:
        return message["type"] == "RECORD" and message["stream"] == stream
    return wanted


def records_seen(stream: str, count: int) -> Callable[[Message, list[Message]], bool]:
    """True once `count` RECORDs of `stream` were read."""
    seen = [0]

    def wanted(message: Message, _messages: list[Message]) -> bool:
        if message["type"] == "RECORD" and message["stream"] == stream:
            seen[0] += 1
        return seen[0] >= count
    return wanted


def first_schema(message: Message, _messages: list[Message]) -> bool:
    return message["type"] == "SCHEMA"


def state_with_bookmarks(message: Message, _messages: list[Message]) -> bool:
    """A STATE that holds at least one metrics bookmark."""
    if message["type"] != "STATE":
        return False
    metrics = message["value"].get("bookmarks", {}).get("metrics", {})
    return bool(metrics.get("partitions"))
