"""The suite's rules for running on pytest-xdist workers (tests/conftest.py) really hold:
a small generated suite, run as `scripts/dev.py test` runs ours, shows where and when each
test ran.

This is what fails when an upgrade of pytest or pytest-xdist stops `--dist loadgroup`
from grouping (pytest 9.2 with pytest-xdist 3.8 does, silently: the tests then build their
shared fixtures once per worker and nothing else tells)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.registry import ROOT

SAMPLE = '''
import json, os, time

import pytest


def record(name):
    start = time.monotonic()
    time.sleep(0.3)
    entry = {"name": name, "worker": os.environ["PYTEST_XDIST_WORKER"], "start": start,
             "end": time.monotonic()}
    with open(os.environ["PARALLEL_LOG"], "a") as log:
        log.write(json.dumps(entry) + "\\n")


@pytest.fixture(scope="module", params=["a", "b"])
def shared(request):
    return request.param


@pytest.mark.parametrize("i", range(3))
def test_shares(shared, i):
    record(f"shares-{shared}-{i}")


@pytest.mark.parametrize("i", range(4))
def test_free(i):
    record(f"free-{i}")


@pytest.mark.exclusive
@pytest.mark.parametrize("i", range(2))
def test_alone(i):
    record(f"alone-{i}")


@pytest.mark.slow
def test_slow():
    record("slow")
'''


def run_sample(tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow\n    exclusive\n")
    # The rules themselves, not a copy of them.
    (suite / "conftest.py").write_text(
        "from tests.conftest import pytest_collection_modifyitems, pytest_runtest_protocol\n")
    (suite / "test_sample.py").write_text(textwrap.dedent(SAMPLE))
    log = tmp_path / "ran.jsonl"
    env = {**os.environ, "PARALLEL_LOG": str(log), "PYTHONPATH": str(ROOT)}
    for name in [name for name in env if name.startswith("PYTEST_")]:
        del env[name]  # this run's own xdist worker must not leak into the inner one
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup",
         "--no-loadscope-reorder", "-p", "no:cacheprovider", "-q", str(suite)],
        cwd=suite, env=env, capture_output=True, text=True, timeout=300, check=False)
    ran = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, ran


def test_two_workers_group_shared_fixtures_run_exclusive_alone_and_slow_first(tmp_path):
    done, ran = run_sample(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "13 passed" in done.stdout.splitlines()[-1]
    assert len(ran) == 13
    by_name = {entry["name"]: entry for entry in ran}

    # Both workers worked, and each instance of the module fixture stayed on one of them.
    assert {entry["worker"] for entry in ran} == {"gw0", "gw1"}
    for param in ("a", "b"):
        workers = {by_name[f"shares-{param}-{i}"]["worker"] for i in range(3)}
        assert len(workers) == 1, f"the tests sharing fixture instance {param} ran on {workers}"

    # Nothing else ran while an exclusive test did.
    for i in range(2):
        alone = by_name[f"alone-{i}"]
        overlapping = [entry["name"] for entry in ran if entry is not alone
                       and entry["start"] < alone["end"] and alone["start"] < entry["end"]]
        assert overlapping == [], f"alone-{i} overlapped {overlapping}"

    # The slow test was among the first two handed out (one per worker).
    starts = sorted(entry["start"] for entry in ran)
    assert by_name["slow"]["start"] <= starts[1]
