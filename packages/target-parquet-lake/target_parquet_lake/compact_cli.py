"""`target-parquet-compact --config <target config> [STREAM]`: compact a lake's streams.

Takes the target's own config (files, or `ENV` for `TARGET_PARQUET_*` variables as
Meltano sets them), so it compacts exactly where and how the loader writes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import typing as t
from pathlib import Path

from singer_sdk.exceptions import ConfigValidationError

from target_parquet_lake.compact import CompactionRefused, Compactor
from target_parquet_lake.settings import CONFIG_JSONSCHEMA, ParquetSettings
from target_parquet_lake.storage import DestinationError, open_lake, redact
from target_parquet_lake.writer import stream_dir_name

LOG = logging.getLogger("target-parquet-compact")
EXIT_CONFIG = 1
EXIT_REFUSED = 2
_ENV_PREFIX = "TARGET_PARQUET_"


def _from_env() -> dict[str, t.Any]:
    config: dict[str, t.Any] = {}
    for name, spec in CONFIG_JSONSCHEMA["properties"].items():
        raw = os.environ.get(f"{_ENV_PREFIX}{name.upper()}")
        if raw is None:
            continue
        kinds = spec.get("type", [])
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "object" in kinds:
            config[name] = json.loads(raw)
        elif "boolean" in kinds:
            config[name] = raw.strip().lower() in {"true", "1", "yes"}
        else:
            config[name] = raw
    return config


def load_config(sources: list[str]) -> dict[str, t.Any]:
    """Merge config files (and `ENV`) in order, later ones winning, as the SDK does."""
    config: dict[str, t.Any] = {}
    for source in sources:
        config.update(_from_env() if source == "ENV" else json.loads(Path(source).read_text()))
    return config


def main(argv: list[str] | None = None) -> int:
    """Compact one stream, or every stream under destination_path; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="target-parquet-compact",
        description=(
            "Rewrite a stream's Parquet files into few large files (one per Hive partition, "
            "or per month), keeping the latest record per primary key."
        ),
    )
    parser.add_argument("--config", action="append", required=True,
                        help="target-parquet config file (repeatable; ENV: TARGET_PARQUET_*)")
    parser.add_argument("stream", nargs="?", help="one stream (default: every stream)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)

    try:
        config = load_config(args.config)
        settings = ParquetSettings.from_config(config)
        lake = open_lake(settings.destination_path, settings.storage_options)
    except ConfigValidationError as exc:
        for error in exc.errors:
            LOG.error("config error: %s", error)
        return EXIT_CONFIG
    except (DestinationError, OSError, ValueError) as exc:
        LOG.error("config error: %s", redact(str(exc), config if "config" in locals() else {}))
        return EXIT_CONFIG

    compactor = Compactor(
        lake=lake,
        compression=settings.compression,
        extension=settings.file_extension,
        max_table_bytes=settings.max_table_bytes,
    )
    streams = [stream_dir_name(args.stream)] if args.stream else compactor.streams()
    refused = False
    for stream in streams:
        try:
            report = compactor.compact(stream)
        except CompactionRefused as exc:
            if args.stream:
                LOG.error("%s", exc)
                refused = True
            else:  # a whole-lake run compacts what it can and says what it skipped
                LOG.warning("skipped: %s", exc)
            continue
        except OSError as exc:
            cause = redact(str(exc), settings.storage_options)
            LOG.error("destination_path %r: stream '%s': %s", lake.display, stream, cause)
            return EXIT_CONFIG
        LOG.info("%s", report.line())
    return EXIT_REFUSED if refused else 0


def cli() -> None:
    """Console script entry point."""
    sys.exit(main())
