"""Fixtures several test folders share, and how the suite shares two cores.

`project`: the repository's Meltano project copied and `meltano install`ed once per
session, used by tests/e2e and tests/lake (one install, not one per folder).

`python3 scripts/dev.py test` runs the suite on pytest-xdist workers (`-n 2 --dist
loadgroup`). Three rules make that safe and quick:

- Tests that share an expensive fixture stay on one worker, so it is built once: every test
  using a module- or class-scoped fixture is grouped by that fixture's instance (module or
  class, and parameter), and the session's Meltano project is one group.
- Work units holding `slow` tests are handed out first, so the long end-to-end tests
  overlap each other instead of trailing in series after the quick ones.
- An `exclusive` test runs with nothing else running (it times something: rate-limit
  windows, elapsed-time bounds). Workers take a shared lock per test; an exclusive test
  takes it exclusively.

Everything else a test touches is its own already: tmp_path for files, free loopback
ports for servers, its own environment per worker process.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.meltano_project import project  # noqa: F401 - a fixture, registered by import

# Session fixtures worth building once per run rather than once per worker.
SHARED_SESSION_FIXTURES = ("project",)


def shared_instances(item: pytest.Item) -> list[str]:
    """The fixture instances the test shares with other tests (its module's, its class's,
    the expensive session ones), one name each; empty when it shares nothing costly."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    callspec = getattr(item, "callspec", None)
    module, *rest = item.nodeid.split("::")
    where = {"module": module, "package": str(Path(module).parent),
             "class": "::".join([module, *rest[:1]]) if getattr(item, "cls", None) else module}
    shared = []
    for name in sorted(info.names_closure):
        definitions = info.name2fixturedefs.get(name)
        if not definitions:
            continue
        scope = definitions[-1].scope
        if scope == "session" and name in SHARED_SESSION_FIXTURES:
            shared.append(f"session:{name}")
        elif scope in where:
            # Each parameter of a parametrized fixture is its own instance. (No brackets:
            # pytest-xdist reads a group only after the last `]` of the test's id.)
            index = callspec.indices.get(name) if callspec is not None else None
            shared.append(f"{where[scope]}:{name}" + ("" if index is None else f"#{index}"))
    return shared


def group_shared_fixtures(items: list[pytest.Item]) -> None:
    """Put tests sharing a fixture instance, directly or through other tests, in one
    xdist group."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    instances = {item.nodeid: shared_instances(item) for item in items}
    for keys in instances.values():
        for key in keys[1:]:
            first, other = root(keys[0]), root(key)
            if first != other:
                parent[max(first, other)] = min(first, other)
    for item in items:
        keys = instances[item.nodeid]
        if keys and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(root(keys[0])))


def _unit(item: pytest.Item) -> str:
    marker = item.get_closest_marker("xdist_group")
    if marker is None:
        return item.nodeid
    return str(marker.args[0] if marker.args else marker.kwargs.get("name", "default"))


def slow_units_first(items: list[pytest.Item]) -> None:
    """Units (a group, or a lone test) with the most slow tests first, then collection
    order; a stable sort keeps pytest's own order (by fixture) within each unit."""
    slow_per_unit: dict[str, int] = {}
    for item in items:
        unit = _unit(item)
        slow = 1 if item.get_closest_marker("slow") else 0
        slow_per_unit[unit] = slow_per_unit.get(unit, 0) + slow
    items.sort(key=lambda item: -slow_per_unit[_unit(item)])


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Iterator[None]:
    # Groups before pytest-xdist reads them (in its own hook); order after pytest's.
    group_shared_fixtures(items)
    yield
    slow_units_first(items)


def _lock_path() -> Path | None:
    """A lock file shared by the workers of this run (None when not under xdist)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")
    if not run or workers == "1" or sys.platform == "win32":
        return None
    return Path(tempfile.gettempdir()) / f"pytest-exclusive-{run}.lock"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    path = _lock_path()
    if path is None:
        return (yield)
    import fcntl  # noqa: PLC0415 - POSIX only, and only needed under xdist

    exclusive = item.get_closest_marker("exclusive") is not None
    # Two locks make it fair: a worker waiting to run alone holds the turnstile, so the
    # other worker cannot keep taking the shared lock test after test.
    with path.open("a") as main, Path(f"{path}.turnstile").open("a") as turnstile:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(main, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        finally:
            if not exclusive:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            return (yield)
        finally:
            fcntl.flock(main, fcntl.LOCK_UN)
            if exclusive:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
