"""`target-parquet-coverage`: which days the lake has, per vendor, account and service.

Exit codes: 0 no gaps; 1 gaps (missing days, or failed partitions the lake cannot place),
so a schedule can run it as a data-quality check; 2 the lake, a summary or an option
cannot be used (the message names which).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow.fs as pafs

from target_parquet_lake.coverage.finality import (
    DEFAULT_NOT_FINAL_WHEN,
    DEFAULT_SERVICE_ENDED_WHEN,
    RuleError,
    parse_rules,
)
from target_parquet_lake.coverage.lake import (
    Failure,
    Lake,
    LakeError,
    open_lake,
    read_days,
    read_ended_services,
    read_summary,
    summary_paths,
    vendor_paths,
)
from target_parquet_lake.coverage.model import VendorCoverage, vendor_coverage
from target_parquet_lake.coverage.page import write_page
from target_parquet_lake.coverage.table import report
from target_parquet_lake.storage import DestinationError, display_uri, resolve_lake

EXIT_OK, EXIT_GAPS, EXIT_BAD_INPUT = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="target-parquet-coverage",
        description=(
            "Report which days a target-parquet lake holds for each vendor, account and "
            "service: missing days (between a service's first and last day, and after it "
            "when the last run failed it) and days not final yet. Exit 1 when days are missing."
        ),
    )
    parser.add_argument(
        "lake", nargs="?",
        help="lake root: a folder holding one destination_path per vendor (<lake>/<vendor>/"
             "metrics/), or one destination_path; a local path or a URI such as "
             "s3://bucket/prefix (default: the --config's destination_path, else output)",
    )
    parser.add_argument(
        "--config", metavar="PATH",
        help="the loader's config JSON: its storage_options open the lake (as they open "
             "destination_path), and its destination_path is the lake when none is given",
    )
    parser.add_argument("--html", metavar="PATH", help="also write the HTML page here")
    parser.add_argument(
        "--summary", metavar="VENDOR=PATH", action="append", default=[],
        help="the last run summary (the tap's summary_path) of VENDOR; default: "
             "<lake>/<vendor>/_run_summary*.json when present. Repeatable.",
    )
    parser.add_argument(
        "--no-summaries", action="store_true",
        help="ignore run summaries: only holes between a service's first and last day count",
    )
    parser.add_argument(
        "--not-final-when", metavar="COLUMN=CONDITION", action="append",
        help="a record is not final when COLUMN is CONDITION (true, false or nonempty); "
             "replaces the defaults, which skip columns a lake lacks: "
             + ", ".join(DEFAULT_NOT_FINAL_WHEN) + ". Repeatable.",
    )
    parser.add_argument(
        "--service-ended-when", metavar="COLUMN=CONDITION", action="append",
        help="a service has ended (and is not expected to keep up when its account's "
             "listing fails) when its services record has COLUMN CONDITION; replaces the "
             "defaults: " + ", ".join(DEFAULT_SERVICE_ENDED_WHEN) + ". Repeatable.",
    )
    parser.add_argument("--vendor", action="append", help="only this vendor (repeatable)")
    parser.add_argument(
        "--show-not-final", action="store_true",
        help="list the ranges of days not final yet too (they never fail the check)",
    )
    return parser


def _explicit_summaries(texts: list[str]) -> dict[str, list[str]]:
    by_vendor: dict[str, list[str]] = {}
    for text in texts:
        vendor, sep, path = text.partition("=")
        if not sep or not vendor.strip() or not path.strip():
            msg = (f"--summary {text!r}: expected VENDOR=PATH "
                   "(e.g. vendorx=output/vendorx/_run_summary.json)")
            raise LakeError(msg)
        by_vendor.setdefault(vendor.strip(), []).append(path.strip())
    return by_vendor


def _open_file(
    location: str, storage_options: Mapping[str, object],
) -> tuple[pafs.FileSystem, str, str]:
    try:
        store = resolve_lake(location, storage_options)
    except DestinationError as exc:
        raise LakeError(str(exc).replace("destination_path ", "run summary ", 1)) from None
    return store.fs, store.root, store.display


def _failures(
    lake: Lake, vendor_path: str, explicit: list[str] | None,
    storage_options: Mapping[str, object],
) -> tuple[list[Failure], list[tuple[str, str]]]:
    failures: list[Failure] = []
    summaries: list[tuple[str, str]] = []
    if explicit is None:
        found = [(lake.filesystem, path, lake.uri(path))
                 for path in summary_paths(lake, vendor_path)]
    else:
        found = [_open_file(location, storage_options) for location in explicit]
    for filesystem, path, shown_as in found:
        these, written = read_summary(filesystem, path, shown_as)
        failures.extend(these)
        summaries.append((shown_as, written))
    return failures, summaries


def collect(
    location: str,
    *,
    rules: tuple[str, ...] = DEFAULT_NOT_FINAL_WHEN,
    ended_rules: tuple[str, ...] = DEFAULT_SERVICE_ENDED_WHEN,
    summaries: dict[str, list[str]] | None = None,
    use_summaries: bool = True,
    only: Sequence[str] | None = None,
    storage_options: Mapping[str, object] | None = None,
) -> list[VendorCoverage]:
    """Coverage of every vendor in the lake. Raises LakeError or RuleError on bad input."""
    parsed_rules = parse_rules(rules)
    parsed_ended = parse_rules(ended_rules, "--service-ended-when")
    options = storage_options or {}
    lake = open_lake(location, options)
    vendors = vendor_paths(lake)
    if only:
        unknown = sorted(set(only) - {name for name, _ in vendors})
        if unknown:
            msg = (f"--vendor {', '.join(unknown)}: not in the lake (it has "
                   f"{', '.join(name for name, _ in vendors)})")
            raise LakeError(msg)
        vendors = [(name, path) for name, path in vendors if name in only]
    explicit = summaries or {}
    unknown = sorted(set(explicit) - {name for name, _ in vendors})
    if unknown:
        msg = f"--summary {', '.join(unknown)}=...: no such vendor in the lake"
        raise LakeError(msg)
    result = []
    for name, path in vendors:
        failures: list[Failure] = []
        found: list[tuple[str, str]] = []
        if use_summaries:
            failures, found = _failures(lake, path, explicit.get(name), options)
        # The services stream is read only to excuse ended services from a failure.
        ended = read_ended_services(lake, path, parsed_ended) if failures else set()
        result.append(vendor_coverage(
            name, read_days(lake, path, parsed_rules),
            failures=failures, summaries=found, ended=ended,
        ))
    return result


def _loader_config(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, json.JSONDecodeError) as exc:
        msg = f"--config {path}: cannot read it: {exc}"
        raise LakeError(msg) from None
    options = config.get("storage_options") if isinstance(config, dict) else None
    if not isinstance(config, dict) or not isinstance(options or {}, dict):
        msg = f"--config {path}: not a target-parquet config (storage_options must be an object)"
        raise LakeError(msg)
    return config


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = _loader_config(args.config)
        location = args.lake or config.get("destination_path") or "output"
        vendors = collect(
            str(location),
            storage_options=config.get("storage_options") or {},
            rules=tuple(args.not_final_when or DEFAULT_NOT_FINAL_WHEN),
            ended_rules=tuple(args.service_ended_when or DEFAULT_SERVICE_ENDED_WHEN),
            summaries=_explicit_summaries(args.summary),
            use_summaries=not args.no_summaries,
            only=args.vendor,
        )
    except (LakeError, RuleError) as exc:
        print(f"target-parquet-coverage: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    shown = display_uri(str(location))
    print(report(vendors, shown, show_not_final=args.show_not_final))
    if args.html:
        try:
            written = write_page(vendors, shown, args.html)
        except OSError as exc:
            print(f"target-parquet-coverage: --html {args.html}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"coverage page: {written}")
    return EXIT_GAPS if any(v.has_gaps for v in vendors) else EXIT_OK


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
