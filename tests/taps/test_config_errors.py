"""Bad configuration fails before any request; a rejected credential fails fast; no secret leaks."""

from __future__ import annotations

import pytest

from tests.tap_runner import run_tap
from tests.taps.conftest import CREDENTIAL, SECRET, tap_config


@pytest.mark.parametrize(
    ("override", "setting"),
    [
        ({"start_date": "last tuesday"}, "start_date"),
        ({"end_date": "2020-02-30"}, "end_date"),
        ({"start_date": "2026-11-10", "end_date": "2026-11-01"}, "end_date"),
        ({"start_date": "2999-01-01", "end_date": None}, "start_date"),
        ({"page_size": 100000}, "page_size"),
    ],
)
def test_bad_settings_fail_before_any_request(vendor, sandbox, tmp_path, override, setting):
    config = {k: v for k, v in {**tap_config(vendor, sandbox.url), **override}.items()
              if v is not None}
    run = run_tap(vendor, config, tmp_path)
    assert run.returncode == 2
    assert f"'{setting}'" in run.stderr
    assert sandbox.stats()["requests_total"] == 0
    assert SECRET not in run.stderr + run.stdout


def test_missing_credential_names_the_setting(vendor, sandbox, tmp_path):
    config = tap_config(vendor, sandbox.url)
    del config[CREDENTIAL[vendor]]
    run = run_tap(vendor, config, tmp_path)
    assert run.returncode == 2
    assert f"'{CREDENTIAL[vendor]}'" in run.stderr
    assert sandbox.stats()["requests_total"] == 0


def test_rejected_credential_fails_fast_without_leaking(vendor, sandbox, tmp_path):
    wrong = "wrong-credential-4f9a1c7e"
    config = {**tap_config(vendor, sandbox.url), CREDENTIAL[vendor]: wrong}
    run = run_tap(vendor, config, tmp_path)
    assert run.returncode == 2
    assert f"'{CREDENTIAL[vendor]}'" in run.stderr
    assert {"x": "401", "y": "403", "z": "401"}[vendor] in run.stderr
    assert sandbox.stats()["requests_total"] <= 2  # the first answer stopped the run
    assert wrong not in run.stderr + run.stdout


def test_credential_never_appears_in_output_state_or_summary(vendor, sandbox, tmp_path):
    summary = tmp_path / "summary.json"
    run = run_tap(vendor, tap_config(vendor, sandbox.url, summary_path=str(summary)), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.records["metrics"]
    for text in (run.stdout, run.stderr, summary.read_text()):
        assert SECRET not in text
