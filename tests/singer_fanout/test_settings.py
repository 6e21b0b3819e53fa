"""Bad configuration is refused before any request, naming the setting (never a secret)."""

from __future__ import annotations

import datetime as dt

import pytest

from singer_fanout.errors import ConfigurationProblem
from singer_fanout.settings import RunSettings, VendorDefaults

VENDOR = VendorDefaults(
    credential_setting="api_token", credential_help="", production_url="https://example.invalid",
    lookback_days=3, retention_days=400, page_size=100, max_page_size=100,
)
SECRET = "s3cr3t-value-never-shown"


def settings(**config):
    return RunSettings.from_config({"api_token": SECRET, **config}, VENDOR)


@pytest.mark.parametrize(
    ("config", "setting"),
    [
        ({"start_date": "yesterday-ish"}, "start_date"),
        ({"start_date": "2026-13-40"}, "start_date"),
        ({"end_date": "soon"}, "end_date"),
        ({"start_date": "2026-10-10", "end_date": "2026-10-01"}, "end_date"),
        ({"start_date": "2999-01-01"}, "start_date"),
        ({"api_token": ""}, "api_token"),
        ({"page_size": 1000}, "page_size"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"request_timeout": -1}, "request_timeout"),
        ({"lookback_days": -2}, "lookback_days"),
    ],
)
def test_problem_names_the_setting(config, setting):
    with pytest.raises(ConfigurationProblem) as problem:
        settings(**config)
    assert problem.value.setting == setting
    assert f"'{setting}'" in str(problem.value)
    assert SECRET not in str(problem.value)


def test_sandbox_needs_no_credential():
    assert RunSettings.from_config({"sandbox": True}, VENDOR).lookback_days == 3


def test_defaults():
    run = settings()
    assert run.start_date == run.today - dt.timedelta(days=30)
    assert run.end_date is None
    assert run.retry.max_attempts == 6
    assert run.retry.connect_timeout_s < run.retry.read_timeout_s < 300


@pytest.mark.parametrize("text", ["3", "0/4", "5/4", "a/b", "1/0"])
def test_bad_shard_names_the_setting(text):
    with pytest.raises(ConfigurationProblem) as problem:
        settings(shard=text)
    assert problem.value.setting == "shard"


def test_shards_partition_accounts_exactly_once():
    accounts = [f"acc_{n:04x}" for n in range(2000)]
    for count in (1, 3, 7):
        owners = {
            account: [k for k in range(1, count + 1)
                      if settings(shard=f"{k}/{count}").wants_account(account)]
            for account in accounts
        }
        assert all(len(found) == 1 for found in owners.values())
        sizes = [sum(1 for f in owners.values() if f == [k]) for k in range(1, count + 1)]
        assert min(sizes) > 0.7 * len(accounts) / count  # a hash that spreads, not clumps


def test_allow_list_and_shard_both_apply():
    run = settings(account_ids=["acc_1", "acc_2"], shard="1/1")
    assert run.wants_account("acc_1")
    assert not run.wants_account("acc_3")
