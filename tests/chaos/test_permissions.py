"""Permissions differ per account: a credential that works for the account listing but is
refused (X 401 / Y 403) for one account or one service fails that partition only, with an
error that names the permission problem, the ids and the vendor's message. A credential
refused on the first request, or revoked mid-run, stops the run with exit 2 at once."""

from __future__ import annotations

import json

from tests.chaos.checks import (
    assert_each_key_once,
    assert_lands,
    metric_keys_by_service,
    truth_of,
    without,
)
from tests.chaos.configs import SLOW, chaos_config
from tests.chaos.live_tap import LiveTap, records_seen
from tests.tap_runner import run_tap
from tests.taps.conftest import CREDENTIAL, sandbox_config
from vendor_sandbox import run_sandbox

AUTH_STATUS = {"x": 401, "y": 403, "z": 403}


def test_an_account_and_a_service_out_of_the_credentials_reach_fail_alone(vendor, tmp_path):
    plain = sandbox_config(vendor)
    probe = truth_of(plain, chaos_config(vendor, "http://unused"))
    accounts = sorted(account for (account,) in probe["accounts"])
    denied_account = accounts[0]
    denied_service = next(key for key in sorted(metric_keys_by_service(probe))
                          if key[0] != denied_account)
    summary_path = tmp_path / "summary.json"
    with run_sandbox(sandbox_config(vendor, forbidden_accounts={denied_account},
                                    forbidden_services={denied_service[1]})) as sandbox:
        config = chaos_config(vendor, sandbox.url, summary_path=str(summary_path))
        truth = truth_of(plain, config)
        run = run_tap(vendor, config, tmp_path)
        stats = sandbox.stats()

    assert run.returncode == 1, run.stderr[-3000:]
    assert "rejected the credential" not in run.stderr
    assert_each_key_once(run)
    assert_lands(vendor, [run], without(truth, accounts={denied_account},
                                        services={denied_service[1]}))
    summary = json.loads(summary_path.read_text())
    assert summary["outcome"] == "partial_failure"
    assert summary["fatal_error"] is None
    (account_failure,) = summary["streams"]["services"]["failures"]
    (service_failure,) = summary["streams"]["metrics"]["failures"]
    assert account_failure["context"] == {"account_id": denied_account}
    assert service_failure["context"] == {"account_id": denied_service[0],
                                          "service_id": denied_service[1]}
    status = AUTH_STATUS[vendor]
    for failure, ids, what in ((account_failure, [denied_account], f"account {denied_account}"),
                               (service_failure, list(denied_service),
                                f"service {denied_service[1]}")):
        assert failure["error"] == "PermissionDenied"
        message = failure["message"]
        assert all(i in message for i in ids), message
        assert f"permission denied: HTTP {status}" in message
        assert f"this credential may not read {what}" in message  # the vendor's own words
        assert f"setting '{CREDENTIAL[vendor]}' still works for other requests" in message
    # A permission failure is not retried; each one cost one check of the credential.
    assert stats["faults"]["forbidden"] == 2


def test_a_credential_revoked_mid_run_stops_the_run_promptly(vendor, tmp_path):
    knobs = {"accounts": 6, **SLOW[vendor]}
    summary_path = tmp_path / "summary.json"
    with run_sandbox(sandbox_config(vendor, **knobs)) as sandbox:
        config = chaos_config(vendor, sandbox.url, summary_path=str(summary_path),
                              max_concurrency=4)
        truth = truth_of(sandbox.config, config)
        live = LiveTap(vendor, config, tmp_path)
        assert live.read_until(records_seen("metrics", 1)), "the run ended before any metrics"
        sandbox.update(token="a-new-credential-the-tap-does-not-have")  # noqa: S106 - a test value
        if vendor == "z":
            sandbox.revoke_tokens()  # the access tokens issued so far die with the secret
        sandbox.reset_stats()
        run = live.finish()
        after = sandbox.stats()["requests_total"]

    assert run.returncode == 2, run.stderr[-3000:]
    assert f"the vendor stopped accepting the credential in setting '{CREDENTIAL[vendor]}' " \
           "during the run" in run.stderr
    assert "revoked or has expired" in run.stderr
    summary = json.loads(summary_path.read_text())
    assert summary["outcome"] == "credential_rejected"
    assert "stopped accepting the credential" in summary["fatal_error"]
    # Promptly: the requests in flight and one check each, not one per remaining partition.
    remaining = len({key[:2] for key in truth["metrics"]}) - 1
    assert after <= 2 * config["max_concurrency"] + 1 < remaining * 2, (after, remaining)
    assert not summary["streams"].get("metrics", {}).get("failures"), \
        "a revoked credential was reported as per-partition permission failures"


def test_a_credential_refused_on_the_first_request_is_exit_2(vendor, tmp_path):
    with run_sandbox(sandbox_config(vendor)) as sandbox:
        config = chaos_config(vendor, sandbox.url, **{CREDENTIAL[vendor]: "not-the-key-123"})
        run = run_tap(vendor, config, tmp_path)
        requests_seen = sandbox.stats()["requests_total"]
    assert run.returncode == 2
    assert f"the vendor rejected the credential in setting '{CREDENTIAL[vendor]}'" in run.stderr
    assert requests_seen == 1
