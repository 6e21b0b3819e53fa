"""The terminal report: per vendor one line of totals, then a table of gap ranges."""

from __future__ import annotations

from target_parquet_lake.coverage.model import FINAL, MISSING, NOT_FINAL, Run, VendorCoverage

WHY_WIDTH = 100


def _why(run: Run, failure_label: str) -> str:
    if run.status == NOT_FINAL:
        return "not final yet"
    if run.after_failure:
        return failure_label
    return "no records for these days"


def _short(text: str) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= WHY_WIDTH else line[: WHY_WIDTH - 1] + "…"


def _table(rows: list[tuple[str, ...]], right_aligned: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right_aligned else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def vendor_lines(vendor: VendorCoverage, *, show_not_final: bool) -> list[str]:
    """The report of one vendor."""
    span = f"{vendor.first}..{vendor.last}" if vendor.first else "no days"
    lines = [
        f"{vendor.name}: {len(vendor.services)} services, {span}; "
        f"{vendor.days(FINAL)} days final, {vendor.days(NOT_FINAL)} not final, "
        f"{vendor.days(MISSING)} missing",
    ]
    for path, written in vendor.summaries:
        failed = sum(1 for f in vendor.failures if f.summary == path)
        lines.append(f"  last run summary {path} (written {written}): {failed} failed partition(s)")
    wanted = {MISSING, NOT_FINAL} if show_not_final else {MISSING}
    rows: list[tuple[str, ...]] = [("account", "service", "days", "count", "status", "why")]
    for service in vendor.services:
        label = ""
        if service.failures:
            first = service.failures[0]
            label = _short(
                f"failed in the last run ({first.stream}): {first.error}: {first.message}",
            )
        for run in service.runs:
            if run.status in wanted:
                rows.append((service.account_id, service.service_id, run.span, str(run.days),
                             run.status.replace("_", " "), _why(run, label)))
    if len(rows) > 1:
        lines.extend(_table(rows, right_aligned={3}))
    elif not vendor.unplaced_failures:
        lines.append("  no missing days")
    for failure in vendor.unplaced_failures:
        lines.append(f"  failed in the last run, no service of it in the lake: "
                     f"{_short(failure.label)}")
    return lines


def report(vendors: list[VendorCoverage], location: str, *, show_not_final: bool) -> str:
    """The whole report, ending with a verdict line that matches the exit code."""
    lines = [f"coverage of {location}", ""]
    for vendor in vendors:
        lines.extend(vendor_lines(vendor, show_not_final=show_not_final))
        lines.append("")
    gap_runs = sum(len(s.gaps) for v in vendors for s in v.services)
    missing_days = sum(v.days(MISSING) for v in vendors)
    unplaced = sum(len(v.unplaced_failures) for v in vendors)
    with_gaps = [v.name for v in vendors if v.has_gaps]
    if with_gaps:
        verdict = f"GAPS: {gap_runs} missing range(s), {missing_days} missing day(s)"
        if unplaced:
            verdict += f", {unplaced} failed partition(s) the lake cannot place"
        lines.append(f"{verdict} in {', '.join(with_gaps)}")
    else:
        lines.append("no gaps")
    return "\n".join(lines)
