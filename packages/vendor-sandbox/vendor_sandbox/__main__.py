"""Command line: `python -m vendor_sandbox serve|truth ...` (also the `vendor-sandbox` script).

`serve` prints the base URL as the first line of stdout, then serves until SIGINT or
SIGTERM; `truth` prints the ground truth as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from vendor_sandbox.config import (
    DATA_FIELDS,
    SandboxConfig,
    add_config_arguments,
    config_from_arguments,
    serving_fields,
)

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vendor-sandbox", description="Simulated VendorX / VendorY / VendorZ APIs on loopback."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve one vendor API until SIGINT/SIGTERM")
    add_config_arguments(serve, serving_fields())
    serve.add_argument(
        "--log-level", default="WARNING", help="logging level on stderr (default WARNING)"
    )
    truth = commands.add_parser("truth", help="print the ground truth as JSON lines")
    add_config_arguments(truth, DATA_FIELDS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command
    log_level = getattr(args, "log_level", "WARNING")
    try:
        config = config_from_arguments(args)
    except ValueError as exc:
        print(f"vendor-sandbox: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if command == "truth":
        return _truth(config)
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr)
    from vendor_sandbox.server import serve_forever  # noqa: PLC0415 - keep `truth` light

    def announce(url: str) -> None:
        print(url, flush=True)

    try:
        serve_forever(config, announce)
    except OSError as exc:  # e.g. the port is taken: a message, not a traceback
        print(
            f"vendor-sandbox: error: cannot serve on {config.host}:{config.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    return 0


def _truth(config: SandboxConfig) -> int:
    from vendor_sandbox.truth import truth_records  # noqa: PLC0415 - keep `serve` light

    out = sys.stdout
    for record in truth_records(config):
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
