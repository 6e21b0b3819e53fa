"""The coverage page: one self-contained HTML file (inline CSS, JS and SVG, no network).

Text (totals, summaries, failures) is rendered here; the heatmap is drawn in the browser by
page.js from the coverage embedded as JSON, one SVG rectangle per run of days, so a year of
thousands of services stays a small file.
"""

from __future__ import annotations

import datetime
import html
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

from target_parquet_lake.coverage.model import FINAL, MISSING, NOT_FINAL, VendorCoverage

HATCH_DEFS = (
    '<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>'
    '<pattern id="failed-hatch" width="4" height="4" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="4" height="4" fill="#fff"/>'
    '<rect width="2.5" height="4" fill="#d1242f"/></pattern></defs></svg>'
)


def _asset(name: str) -> str:
    return files("target_parquet_lake.coverage").joinpath(name).read_text(encoding="utf-8")


def page_data(vendors: list[VendorCoverage]) -> dict[str, Any]:
    """What page.js draws: per vendor its day range and each service's runs."""
    return {
        "vendors": [
            {
                "name": vendor.name,
                "first": vendor.first.isoformat() if vendor.first else None,
                "last": vendor.last.isoformat() if vendor.last else None,
                "services": [
                    {
                        "account": service.account_id,
                        "service": service.service_id,
                        "failed": "; ".join(
                            f"{f.stream}: {f.error}: {f.message}" for f in service.failures
                        ) or None,
                        "gaps": len(service.gaps),
                        "runs": [
                            [run.start.isoformat(), run.end.isoformat(), run.status,
                             run.after_failure]
                            for run in service.runs
                        ],
                    }
                    for service in vendor.services
                ],
            }
            for vendor in vendors
        ],
    }


def _json_for_script(value: object) -> str:
    # Inside <script> only `</` (and `<!--`) can end the element early; escape every `<`.
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


def _vendor_section(index: int, vendor: VendorCoverage) -> str:
    esc = html.escape
    span = f"{vendor.first} to {vendor.last}" if vendor.first else "no days"
    parts = [
        f'<section class="vendor" id="vendor-{index}" data-vendor="{esc(vendor.name)}">',
        f"<h2>{esc(vendor.name)}</h2>",
        f'<p class="totals">{len(vendor.services)} services, {esc(span)}: '
        f'<span data-total="final">{vendor.days(FINAL)}</span> days final, '
        f'<span data-total="not_final">{vendor.days(NOT_FINAL)}</span> not final, '
        f'<span data-total="missing">{vendor.days(MISSING)}</span> missing</p>',
    ]
    for path, written in vendor.summaries:
        failed = sum(1 for f in vendor.failures if f.summary == path)
        parts.append(
            f'<p class="summary">Last run summary <code>{esc(path)}</code> (written '
            f"{esc(written)}): {failed} failed partition(s).</p>",
        )
    if vendor.unplaced_failures:
        parts.append('<p>Failed in the last run, with no service of theirs in the lake:</p>'
                     '<ul class="failed-list">')
        parts.extend(f"<li>{esc(f.label)}</li>" for f in vendor.unplaced_failures)
        parts.append("</ul>")
    parts += [
        f'<p class="controls"><label><input type="checkbox" id="only-gaps-{index}"> '
        "only services with missing days or a failed partition</label></p>",
        f'<div class="heatmap" id="heatmap-{index}"></div>',
        "</section>",
    ]
    return "\n".join(parts)


def render(vendors: list[VendorCoverage], location: str) -> str:
    """The whole page as one string."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    gaps = [v.name for v in vendors if v.has_gaps]
    verdict = (
        f'<p class="verdict gaps">Missing days in {html.escape(", ".join(gaps))}.</p>' if gaps
        else '<p class="verdict ok">No missing days.</p>'
    )
    legend = "".join(
        f'<span><i class="swatch {cls}"></i>{label}</span>'
        for cls, label in (
            ("final", "present, final"), ("not_final", "present, not final yet"),
            ("missing", "missing"), ("failed", "missing after the last run failed the service"),
        )
    )
    sections = "\n".join(_vendor_section(i, v) for i, v in enumerate(vendors))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Coverage of {html.escape(location)}</title>
<style>
{_asset("page.css")}</style>
</head>
<body>
{HATCH_DEFS}
<h1>Coverage of <code>{html.escape(location)}</code></h1>
<p class="meta">Generated {now} by target-parquet-coverage. Rows are services, grouped by
account; columns are UTC days. A service is expected to have every day between its first and
last day in the lake, and up to its vendor's last day when the last run failed it (marked
&#10006;).</p>
{verdict}
<div class="legend">{legend}</div>
<noscript><p>The heatmap is drawn by the page's own script; enable JavaScript to see it.
The totals above do not need it.</p></noscript>
{sections}
<div id="info" role="status"></div>
<script type="application/json" id="coverage-data">{_json_for_script(page_data(vendors))}</script>
<script>
{_asset("page.js")}</script>
</body>
</html>
"""


def write_page(vendors: list[VendorCoverage], location: str, path: str) -> Path:
    """Write the page; returns its absolute path."""
    target = Path(path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(vendors, location), encoding="utf-8")
    return target
