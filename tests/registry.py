"""The taps of the repository, read from taps.json: tests parametrise over every tap listed."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TAPS: list[dict[str, Any]] = json.loads((ROOT / "taps.json").read_text())["taps"]
VENDORS = [tap["vendor"] for tap in TAPS]
CREDENTIAL = {tap["vendor"]: tap["credential"] for tap in TAPS}
BY_VENDOR = {tap["vendor"]: tap for tap in TAPS}


def tap_class(vendor: str) -> Any:
    tap = BY_VENDOR[vendor]
    return getattr(importlib.import_module(f"{tap['module']}.tap"), tap["class"])
