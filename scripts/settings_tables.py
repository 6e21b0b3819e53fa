"""Print the README's settings tables, generated from each tap's `--about --format=markdown`.

    python scripts/settings_tables.py            # print
    python scripts/settings_tables.py --check    # exit 1 if README.md is out of date
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TAPS = tuple(tap["name"] for tap in json.loads((ROOT / "taps.json").read_text())["taps"])
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def settings_table(tap: str) -> str:
    about = subprocess.run([str(Path(sys.executable).parent / tap), "--about", "--format=markdown"],
                           capture_output=True, text=True, check=True).stdout
    lines = about.splitlines()
    start = lines.index("## Settings") + 2
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        # singer-sdk's built-in settings (stream maps, flattening, ...) are documented by
        # singer-sdk; the README lists the taps' own.
        if line.split("|")[1].strip().startswith(("stream_map", "faker_config", "flattening")):
            continue
        table.append(line)
    return f"### {tap}\n\n" + "\n".join(table) + "\n"


def generated() -> str:
    tables = "\n".join(settings_table(tap) for tap in TAPS)
    return f"{BEGIN}\n{tables}\n{END}"


def main() -> None:
    text = generated()
    if "--check" not in sys.argv:
        print(text)
        return
    readme = (ROOT / "README.md").read_text()
    current = readme[readme.index(BEGIN): readme.index(END) + len(END)]
    if current != text:
        sys.exit("README.md settings tables are out of date: run scripts/settings_tables.py")


if __name__ == "__main__":
    main()
