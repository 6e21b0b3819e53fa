"""Configuration mistakes singer-sdk lets through: unknown setting names, an unwritable summary.

Both are checked before any request. singer-sdk's config schema allows any extra key, so a
typo (`start_dat`, `max_concurency`) would silently fall back to the default; a summary
that cannot be written would only fail after the whole sync.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from singer_fanout.errors import ConfigurationProblem


class UnknownSettings(ConfigurationProblem):
    """Names in the config that are no setting of this tap (nor of singer-sdk)."""

    def __init__(self, tap_name: str, names: list[str], known: Iterable[str]) -> None:
        choices = sorted(known)
        described = []
        for name in names:
            near = difflib.get_close_matches(name, choices, n=1, cutoff=0.75)
            described.append(f"'{name}'" + (f" (did you mean '{near[0]}'?)" if near else ""))
        ConfigurationProblem.__init__(self, names[0], "")
        self.args = (f"unknown setting(s) in the config: {', '.join(described)}; "
                     f"{tap_name} has no such setting (`{tap_name} --about` lists them)",)

    def __str__(self) -> str:
        return str(self.args[0])


def check_setting_names(config: Mapping[str, Any], known: Iterable[str], tap_name: str) -> None:
    known = set(known)
    unknown = sorted(name for name in config if name not in known)
    if unknown:
        raise UnknownSettings(tap_name, unknown, known)


def check_writable(setting: str, path_text: str) -> None:
    """Raise ConfigurationProblem unless a file can be written at `path_text` (parents made)."""
    path = Path(path_text)
    if path.is_dir():
        raise ConfigurationProblem(setting, f"{path} is a directory; give the path of a file")
    blocking = next((parent for parent in path.parents if parent.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise ConfigurationProblem(
            setting, f"cannot write {path}: {blocking} is a file, not a directory"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Creating a file next to it proves the directory is writable, without touching a
        # summary an earlier run left there.
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}."):
            pass
    except OSError as error:
        raise ConfigurationProblem(
            setting, f"cannot write {path}: {error.strerror or error}"
        ) from None
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigurationProblem(setting, f"cannot write {path}: permission denied")
