"""Pipe mode: one shard as `tap --config ... --state ... | target --config ...`.

The tap's stdout goes straight into the target's stdin (an OS pipe, nothing in between).
The state kept for the shard is the last STATE the *target* emitted: a Singer target
echoes the tap's state only once the records before it are on disk, so a shard that dies
mid-run resumes exactly after what landed (the tap's own latest STATE may cover records
the target never wrote). Each such line replaces `state.json` atomically as it arrives, so
even a worker that dies leaves the latest confirmed state behind (target-parquet confirms
at least every `flush_interval_seconds`).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from shardrun.attempt import ShardAttempt
from shardrun.files import write_json_atomically
from shardrun.jobs import (
    PipeSpec,
    ShardJob,
    ShardResult,
)
from singer_fanout.tap import EXIT_CONFIGURATION, EXIT_INTERRUPTED, EXIT_PARTIAL_FAILURE

TAP_EXIT_MEANINGS = {
    EXIT_PARTIAL_FAILURE: "some partitions failed (see the shard's summary)",
    EXIT_CONFIGURATION: "configuration or credential problem",
    EXIT_INTERRUPTED: "interrupted (state written for what was emitted)",
}


def resolve_executable(name: str) -> str:
    """A console script on PATH, or beside this interpreter (a worker's venv may not be on
    its PATH), or a path as given."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    return found or name


def run_pipe(job: ShardJob) -> ShardResult:
    assert isinstance(job.spec, PipeSpec)
    spec = job.spec
    attempt = ShardAttempt.begin(job)
    shard_dir, summary_path = attempt.shard_dir, attempt.summary_path
    tap_config = shard_dir / "tap-config.json"
    target_config = shard_dir / "target-config.json"
    write_json_atomically(tap_config, {
        **spec.tap_config, "shard": str(job.shard), "summary_path": str(summary_path),
    })
    write_json_atomically(target_config, spec.target_config)
    state_path = shard_dir / "state.json"
    tap_cmd = [resolve_executable(spec.tap), "--config", str(tap_config)]
    if job.state:
        write_json_atomically(state_path, job.state)
        tap_cmd += ["--state", str(state_path)]
    else:
        state_path.unlink(missing_ok=True)
    target_cmd = [resolve_executable(spec.target), "--config", str(target_config)]

    with (shard_dir / "tap.log").open("wb") as tap_log, \
            (shard_dir / "target.log").open("wb") as target_log:
        # The executables are the operator's own command line, run without a shell.
        tap = subprocess.Popen(tap_cmd, stdout=subprocess.PIPE, stderr=tap_log)  # noqa: S603
        target = subprocess.Popen(target_cmd, stdin=tap.stdout,  # noqa: S603
                                  stdout=subprocess.PIPE, stderr=target_log)
        assert tap.stdout is not None
        assert target.stdout is not None
        tap.stdout.close()  # the target holds the read end; the tap sees EPIPE if it dies
        timer = _stop_after(tap, job.timeout_s)
        try:
            state = _follow_target_states(target.stdout, state_path, job.state)
            target_code, tap_code = target.wait(), tap.wait()
        finally:
            if timer is not None:
                timer.cancel()
            for process in (tap, target):
                if process.poll() is None:
                    process.kill()
                    process.wait()

    ok = tap_code == 0 and target_code == 0
    return attempt.result(
        ok=ok,
        reason="" if ok else _reason(tap_code, target_code, timer),
        exit_codes={"tap": tap_code, "target": target_code},
        failing_log=shard_dir / ("target.log" if tap_code == 0 else "tap.log"),
        state=state,
    )


def _follow_target_states(
    lines: IO[bytes], state_path: Path, initial: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Persist every state the target confirms; return the last one."""
    state = initial
    for line in lines:
        try:
            message = json.loads(line)
        except ValueError:
            continue  # not a state line: nothing a target should print, but not ours to fail
        if isinstance(message, dict) and message.get("type") == "STATE":
            message = message.get("value")  # some targets wrap it like a tap does
        if isinstance(message, dict):
            state = message
            write_json_atomically(state_path, state)
    return state


class _Timer:
    def __init__(self, tap: subprocess.Popen[bytes], seconds: float) -> None:
        self.fired = False
        self._tap = tap
        self._timer = threading.Timer(seconds, self._stop)
        self._timer.daemon = True
        self._timer.start()

    def _stop(self) -> None:
        # SIGTERM, not SIGKILL: the tap stops scheduling, writes its state and exits 3;
        # the target then drains and confirms that state.
        if self._tap.poll() is None:
            self.fired = True
            self._tap.send_signal(signal.SIGTERM)

    def cancel(self) -> None:
        self._timer.cancel()


def _stop_after(tap: subprocess.Popen[bytes], seconds: float | None) -> _Timer | None:
    return None if seconds is None else _Timer(tap, seconds)


def _reason(tap_code: int, target_code: int, timer: _Timer | None) -> str:
    parts = []
    if timer is not None and timer.fired:
        parts.append("stopped by the shard timeout")
    if tap_code < 0:
        parts.append(f"tap killed by signal {-tap_code}")
    elif tap_code != 0:
        meaning = TAP_EXIT_MEANINGS.get(tap_code, "failed")
        parts.append(f"tap exited {tap_code}: {meaning}")
    if target_code < 0:
        parts.append(f"target killed by signal {-target_code}")
    elif target_code != 0:
        parts.append(f"target exited {target_code} (see target.log)")
    return "; ".join(parts)
