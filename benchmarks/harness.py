"""Pieces the benchmarks share: a sandbox in its own process, a tap run with a counting sink.

The tap runs as a real subprocess; this process drains its stdout, counting RECORD lines and
STATE bytes, and reads the child's own peak RSS from `os.wait4` when it exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
TOKEN = "bench-credential-0000"  # noqa: S105 - the sandbox's made-up credential
CREDENTIAL_SETTING = {"x": "api_token", "y": "api_key", "z": "client_secret"}


@dataclass
class Sandbox:
    url: str
    pid: int = 0

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the sandbox process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # utime and stime are fields 14 and 15 of the whole line, in clock ticks.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_sandbox/stats") as answer:  # noqa: S310
            result: dict[str, Any] = json.load(answer)
            return result


@contextlib.contextmanager
def sandbox_process(vendor: str, **knobs: Any) -> Iterator[Sandbox]:
    """`python -m vendor_sandbox serve` in its own process, so it never shares our CPU."""
    args = [sys.executable, "-m", "vendor_sandbox", "serve", "--vendor", vendor, "--port", "0",
            "--token", TOKEN, "--log-level", "warning"]
    for name, value in knobs.items():
        text = f"{value[0]}-{value[1]}" if isinstance(value, tuple) else str(value)
        args += [f"--{name.replace('_', '-')}", text]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield Sandbox(process.stdout.readline().strip(), process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class TapResult:
    seconds: float
    records: int
    state_messages: int
    state_bytes: int
    peak_rss_mb: float
    returncode: int
    cpu_s: float = 0.0  # the tap process's own user + system CPU
    final_state_bytes: int = 0  # the last STATE line: what the next run starts from


def run_tap(vendor: str, config: dict[str, Any], *, baseline: bool = False,
            state_in: Path | None = None, state_out: Path | None = None,
            command: list[str] | None = None) -> TapResult:
    """Run tap-vendor<x|y> (or the plain singer-sdk baseline) and count what it writes.

    `state_in`: a state file the run starts from; `state_out`: where its last STATE goes;
    `command`: another tap executable (its `--config` and `--state` are added).
    """
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({CREDENTIAL_SETTING[vendor]: TOKEN, "progress_interval_seconds": 3600,
                   **config}, handle)
    if command is not None:
        cmd = [*command, "--config", handle.name]
    elif baseline:
        cmd = [sys.executable, str(HERE / "baseline_tap.py"), vendor, "--config", handle.name]
    else:
        cmd = [str(BIN / f"tap-vendor{vendor}"), "--config", handle.name]
    if state_in is not None:
        cmd += ["--state", str(state_in)]
    started = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    records = state_messages = state_bytes = final_state_bytes = 0
    last_state = b""
    for line in process.stdout:
        if line.startswith(b'{"type":"RECORD"'):
            records += 1
        elif line.startswith(b'{"type":"STATE"'):
            state_messages += 1
            state_bytes += len(line)
            final_state_bytes = len(line)
            last_state = line
    _, status, usage = os.wait4(process.pid, 0)
    if state_out is not None and last_state:
        state_out.write_text(json.dumps(json.loads(last_state)["value"]))
    seconds = time.perf_counter() - started
    os.unlink(handle.name)
    # ru_maxrss is in KiB on Linux.
    return TapResult(seconds, records, state_messages, state_bytes, usage.ru_maxrss / 1024,
                     os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime,
                     final_state_bytes)


@contextlib.contextmanager
def code_from(checkout: str | None) -> Iterator[str]:
    """Taps, kit and sandbox imported from another checkout (its packages first on
    PYTHONPATH, which the tap and sandbox subprocesses inherit), or from this one."""
    if checkout is None:
        yield "this checkout"
        return
    packages = Path(checkout).resolve() / "packages"
    paths = [str(packages / name) for name in ("singer-fanout", "tap-vendorx", "tap-vendory",
                                               "vendor-sandbox")]
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([*paths, *([previous] if previous else [])])
    try:
        yield f"before ({checkout})"
    finally:
        if previous is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = previous


def startup_cpu_s(vendor: str, config: dict[str, Any]) -> float:
    """CPU seconds of the tap's start-up alone: `--discover` with the same config (imports,
    settings, catalog), so a run's CPU per request can be told apart from its fixed cost."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({CREDENTIAL_SETTING[vendor]: TOKEN, **config}, handle)
    process = subprocess.Popen([str(BIN / f"tap-vendor{vendor}"), "--config", handle.name,
                                "--discover"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(process.pid, 0)
    os.unlink(handle.name)
    return usage.ru_utime + usage.ru_stime


def table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    print(f"\n## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    sys.stdout.flush()
