"""The credential never leaks; TLS is always verified; the sandbox binds loopback only."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.chaos.checks import assert_lands, metric_keys_by_service, truth_of
from tests.chaos.configs import chaos_config
from tests.chaos.live_tap import LiveTap
from tests.chaos.tls import TlsProxy, make_certificates
from tests.tap_runner import BIN, run_tap
from tests.taps.conftest import CREDENTIAL, SECRET, sandbox_config
from vendor_sandbox import run_sandbox


def test_the_credential_never_appears_in_logs_errors_state_or_summary(vendor, tmp_path):
    """A run with every kind of error message, logged at DEBUG, is grepped whole."""
    plain = sandbox_config(vendor)
    probe = truth_of(plain, chaos_config(vendor, "http://unused"))
    (_, failing), (_, hostile) = sorted(metric_keys_by_service(probe))[:2]
    summary_path = tmp_path / "summary.json"
    with run_sandbox(sandbox_config(vendor, error_5xx_rate=0.1, fail_services={failing},
                                    hostile_services={hostile: "malformed_json"})) as sandbox:
        config = chaos_config(vendor, sandbox.url, max_retries=2,
                              summary_path=str(summary_path))
        run = LiveTap(vendor, config, tmp_path, env={"LOGLEVEL": "DEBUG"}).finish()
    assert run.returncode == 1, run.stderr[-3000:]
    # The run really produced the text a leak would hide in: errors, retries, debug lines.
    assert "partition failed" in run.stderr
    assert "retry" in run.stderr
    assert "DEBUG" in run.stderr
    texts = {
        "stdout (records and STATE)": run.stdout,
        "stderr (logs and errors)": run.stderr,
        "summary": summary_path.read_text(),
        "final state": json.dumps(run.final_state),
    }
    for where, text in texts.items():
        assert SECRET not in text, f"the credential leaked into the {where}"


def test_a_credential_echoed_back_by_the_vendor_never_leaves_the_tap(vendor, tmp_path):
    """The sandbox repeats the credential in every error body, a header and a URL; every
    byte the tap wrote (stdout, stderr, summary) is grepped."""
    plain = sandbox_config(vendor)
    probe = truth_of(plain, chaos_config(vendor, "http://unused"))
    (_, failing), (denied_account, _) = sorted(metric_keys_by_service(probe))[0], \
        sorted(metric_keys_by_service(probe))[-1]
    summary_path = tmp_path / "summary.json"
    with run_sandbox(sandbox_config(vendor, echo_credential=True, error_5xx_rate=0.1,
                                    fail_services={failing},
                                    forbidden_accounts={denied_account})) as sandbox:
        config = chaos_config(vendor, sandbox.url, max_retries=2,
                              summary_path=str(summary_path))
        run = LiveTap(vendor, config, tmp_path, env={"LOGLEVEL": "DEBUG"}).finish()
    assert run.returncode == 1, run.stderr[-3000:]
    summary = summary_path.read_text()
    failures = [f for s in json.loads(summary)["streams"].values() for f in s["failures"]]
    assert {f["error"] for f in failures} == {"PartitionError", "PermissionDenied"}
    # The echo reached the tap (it is masked where it would have been).
    assert all("sent credential ****" in f["message"] for f in failures), failures
    assert "retry" in run.stderr
    for where, text in {"stdout": run.stdout, "stderr": run.stderr, "summary": summary}.items():
        assert SECRET not in text, f"the credential leaked into the {where}"


def test_a_rejected_credential_echoed_back_is_masked_in_the_fatal_error(vendor, tmp_path):
    wrong = "wrong-but-still-secret-4f9a1c7e"
    summary_path = tmp_path / "summary.json"
    with run_sandbox(sandbox_config(vendor, echo_credential=True)) as sandbox:
        config = chaos_config(vendor, sandbox.url, summary_path=str(summary_path),
                              **{CREDENTIAL[vendor]: wrong})
        run = run_tap(vendor, config, tmp_path)
    assert run.returncode == 2
    summary = summary_path.read_text()
    assert "sent credential ****" in json.loads(summary)["fatal_error"]
    for text in (run.stdout, run.stderr, summary):
        assert wrong not in text


@pytest.mark.parametrize("value", [{"token": SECRET}, [SECRET], 98765432101234567])
def test_a_credential_of_the_wrong_type_is_not_printed(tmp_path, value):
    config = chaos_config("x", "http://127.0.0.1:9", api_token=value)
    run = run_tap("x", config, tmp_path)
    assert run.returncode == 2
    assert "setting 'api_token': invalid value (it must be of type string or null); the value is " \
           "secret and not shown" in run.stderr
    printed = str(value) if isinstance(value, int) else SECRET
    assert printed not in run.stderr + run.stdout


def test_about_shows_no_secret(tmp_path):
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(chaos_config("x", "http://127.0.0.1:9")))
    for about_format in ((), ("--format=json",), ("--format=markdown",)):
        completed = subprocess.run(
            [str(BIN / "tap-vendorx"), "--about", *about_format, "--config", str(config_file)],
            capture_output=True, text=True, timeout=60, check=False)
        assert completed.returncode == 0, completed.stderr
        assert "api_token" in completed.stdout
        assert SECRET not in completed.stdout + completed.stderr


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("tls"))


def test_a_self_signed_endpoint_is_refused_without_a_ca_bundle(vendor, tmp_path, certificates):
    with run_sandbox(sandbox_config(vendor)) as sandbox, \
            TlsProxy(sandbox.url, certificates).running() as proxy:
        run = run_tap(vendor, chaos_config(vendor, proxy.url, max_retries=0), tmp_path)
        requests_seen = sandbox.stats()["requests_total"]
    assert run.returncode == 2  # a configuration problem: retrying cannot fix it
    assert not run.records
    assert proxy.sessions == 0, "a TLS session was established with an untrusted certificate"
    assert requests_seen == 0
    assert "'ca_bundle'" in run.stderr
    assert "certificate verify failed" in run.stderr


def test_a_ca_bundle_makes_the_endpoint_trusted(vendor, tmp_path, certificates):
    with run_sandbox(sandbox_config(vendor)) as sandbox, \
            TlsProxy(sandbox.url, certificates).running() as proxy:
        config = chaos_config(vendor, proxy.url, ca_bundle=str(certificates.ca))
        truth = truth_of(sandbox.config, config)
        run = run_tap(vendor, config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert proxy.sessions > 0
    assert_lands(vendor, [run], truth)


def test_an_untrusted_certificate_is_a_configuration_problem(tmp_path, certificates):
    summary_path = tmp_path / "summary.json"
    with run_sandbox(sandbox_config("x")) as sandbox, \
            TlsProxy(sandbox.url, certificates).running() as proxy:
        run = run_tap("x", chaos_config("x", proxy.url, summary_path=str(summary_path)),
                      tmp_path)
    assert run.returncode == 2
    assert "'ca_bundle'" in run.stderr
    assert "certificate verify failed" in run.stderr
    assert json.loads(summary_path.read_text())["requests"] == 1, "retried a TLS failure"


def test_a_missing_ca_bundle_is_refused_before_any_request(tmp_path):
    with run_sandbox(sandbox_config("x")) as sandbox:
        config = chaos_config("x", sandbox.url, ca_bundle=str(tmp_path / "missing.pem"))
        run = run_tap("x", config, tmp_path)
        requests_seen = sandbox.stats()["requests_total"]
    assert run.returncode == 2
    assert "'ca_bundle'" in run.stderr
    assert requests_seen == 0


def test_sandbox_mode_serves_on_loopback_only(vendor, tmp_path):
    config = {"sandbox": True, "start_date": chaos_config(vendor, "")["start_date"],
              "max_concurrency": 4}
    run = run_tap(vendor, config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    urls = re.findall(r"bundled sandbox at (\S+)", run.stderr)
    assert urls
    assert all(re.fullmatch(r"http://127\.0\.0\.1:\d+", url) for url in urls), urls


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])  # noqa: S104 - what must be refused
def test_the_sandbox_cli_refuses_to_bind_beyond_loopback(host):
    completed = subprocess.run(
        [sys.executable, "-m", "vendor_sandbox", "serve", "--vendor", "x", "--host", host],
        capture_output=True, text=True, timeout=30, check=False)
    assert completed.returncode != 0
    assert "loopback" in completed.stderr
    assert completed.stdout == "", "it printed a URL: it was serving"
