"""A minimal singer-sdk target for tests: what it loads, from RECORD or BATCH messages.

Each stream's rows go to `<output_dir>/<stream>.jsonl`, loaded through singer-sdk's own
batch support (BatchSink: batch files are read by the SDK, jsonl or parquet), and each
ACTIVATE_VERSION it is asked to apply to `<output_dir>/activate_version.jsonl`.

    python -m tests.recording_target --config config.json < singer-messages
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.sinks import BatchSink
from typing_extensions import override


class RecordingSink(BatchSink):
    max_size = 1_000_000  # drained at the end and at each STATE the SDK decides

    @property
    def output_dir(self) -> Path:
        return Path(self.config["output_dir"])

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        with (self.output_dir / f"{self.stream_name}.jsonl").open("a") as out:
            for record in context.get("records", []):
                out.write(json.dumps(record, default=str) + "\n")

    @override
    def activate_version(self, new_version: int) -> None:
        with (self.output_dir / "activate_version.jsonl").open("a") as out:
            out.write(json.dumps({"stream": self.stream_name, "version": new_version}) + "\n")


class RecordingTarget(Target):
    name = "target-recording"
    config_jsonschema = th.PropertiesList(
        th.Property("output_dir", th.StringType, required=True),
    ).to_dict()
    default_sink_class = RecordingSink


if __name__ == "__main__":
    RecordingTarget.cli()
