"""The README's lake query runs as written, with what setup installs, on a real lake."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.lake.lake_io import run_target
from tests.lake.test_s3_target import messages, rows

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_query() -> str:
    text = README.read_text()
    marker = text.index("<!-- lake-query:")
    block = re.search(r"```python\n(.*?)```", text[marker:], re.DOTALL)
    assert block, "the README's lake query block is missing"
    return block.group(1)


def test_readme_query_gives_the_latest_row_per_key(tmp_path):
    lake = tmp_path / "output" / "vendorx"
    # Three runs; the second and third revise overlapping keys. File names are made to
    # sort against load order, so a query ordering by file name would get it wrong.
    run_target({"destination_path": str(lake), "partition_cols": "date"}, messages(rows(12)))
    config = {"destination_path": str(lake), "partition_cols": "date"}
    run_target(config, messages(rows(8, requests_offset=100)))
    run_target(config, messages(rows(4, requests_offset=200)))
    loaded = sorted((lake / "metrics").rglob("*.parquet"), key=lambda p: p.name)  # run order
    for order, path in enumerate(loaded):
        path.rename(path.with_name(f"{999 - order:03d}-{path.name}"))  # newest sorts first

    script = tmp_path / "query.py"
    script.write_text(readme_query() + (
        "assert latest.aggregate('count(*)').fetchall() == [(12,)]\n"
        "got = dict(latest.select('service_id, requests').fetchall())\n"
        "assert got == {f's{i}': i + (200 if i < 4 else 100 if i < 8 else 0) for i in range(12)}\n"
        "got_pl = dict(latest_pl.select('service_id', 'requests').iter_rows())\n"
        "assert got_pl == got, got_pl\n"
    ))
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["[(12,)]", "12"]


def test_loader_readme_settings_table_is_the_about_output():
    """The loader README's table is `target-parquet --about --format=markdown`'s, verbatim."""
    loader_readme = README.parent / "packages" / "target-parquet-lake" / "README.md"
    about = subprocess.run([str(Path(sys.executable).parent / "target-parquet"), "--about",
                            "--format=markdown"], capture_output=True, text=True, check=True,
                           timeout=60).stdout
    table = about[about.index("| Setting |"):about.index("A full list of supported settings")]
    assert table.strip() in loader_readme.read_text(), (
        "regenerate the settings table in packages/target-parquet-lake/README.md from "
        "`target-parquet --about --format=markdown`"
    )
