"""Optional parts of a tap that live in another distribution, installed through an extra.

A tap names the module, the setting that needs it and the requirement to install; when the
module is missing the run stops with a configuration error that says what to install,
instead of an ImportError from deep inside the sync.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from singer_fanout.errors import ConfigurationProblem


def require_extra(module: str, *, setting: str, requirement: str) -> ModuleType:
    """Import `module`, or explain which extra to install for `setting`."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as missing:
        if missing.name != module.split(".", maxsplit=1)[0]:
            raise  # the module is there but something it imports is not: a real bug
        raise ConfigurationProblem(
            setting,
            f"needs the optional package {module!r}, which is not installed; "
            f"install it with: pip install '{requirement}'",
        ) from missing
