"""`api_url` mistakes and unreachable endpoints: each named as what it is, with the host and
the setting, and exit 2 when nothing could ever be reached (retrying the next partition
would not help). Transport security: no credential in clear to another machine, no
redirect followed."""

from __future__ import annotations

import json

import pytest

from tests.chaos.configs import chaos_config
from tests.chaos.raw_servers import RecordingServer, refused_url, silent_server
from tests.tap_runner import run_tap
from tests.taps.conftest import SECRET, sandbox_config
from vendor_sandbox import run_sandbox

API_PREFIX = {"x": "/v1", "y": "/api/v2", "z": "/v3"}


def test_an_api_url_without_a_scheme_is_a_configuration_error(vendor, tmp_path):
    with run_sandbox(sandbox_config(vendor)) as sandbox:
        bare = sandbox.url.removeprefix("http://")
        run = run_tap(vendor, chaos_config(vendor, bare), tmp_path)
        requests_seen = sandbox.stats()["requests_total"]
    assert run.returncode == 2, run.stderr[-3000:]
    assert "setting 'api_url'" in run.stderr
    assert "has no scheme" in run.stderr
    assert f"'https://{bare}'" in run.stderr
    assert requests_seen == 0


@pytest.mark.parametrize("url", ["http://192.0.2.10:8080", "http://api.vendor.example"])
def test_plain_http_to_another_machine_is_refused_before_any_connection(tmp_path, url):
    run = run_tap("x", chaos_config("x", url), tmp_path)
    assert run.returncode == 2
    assert "setting 'api_url'" in run.stderr
    assert "unencrypted" in run.stderr
    assert "allow_insecure_http" in run.stderr
    assert "cannot reach" not in run.stderr, "it tried to connect"


def test_the_insecure_opt_in_lets_plain_http_through(tmp_path):
    # 192.0.2.0/24 is TEST-NET-1: never routed, so the attempt itself fails, fast.
    config = chaos_config("x", "http://192.0.2.10:9", allow_insecure_http=True, max_retries=0,
                          connect_timeout=0.3)
    run = run_tap("x", config, tmp_path)
    assert run.returncode == 2
    assert "unencrypted" not in run.stderr
    assert "cannot reach api_url http://192.0.2.10:9" in run.stderr


def test_loopback_http_needs_no_opt_in(vendor, tmp_path):
    with run_sandbox(sandbox_config(vendor)) as sandbox:
        url = sandbox.url.replace("127.0.0.1", "localhost")
        run = run_tap(vendor, chaos_config(vendor, url), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]


def test_a_refused_connection_is_named_and_ends_the_run_with_exit_2(vendor, tmp_path):
    url = refused_url()
    summary_path = tmp_path / "summary.json"
    run = run_tap(vendor, chaos_config(vendor, url, max_retries=2,
                                       summary_path=str(summary_path)), tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    host = url.removeprefix("http://")
    assert f"setting 'api_url': cannot reach api_url {url}: connection refused talking to " \
           f"{host}" in run.stderr
    assert "gave up after 3 attempts" in run.stderr
    assert "timed out" not in run.stderr
    assert "partial failure" not in run.stderr.lower()
    summary = json.loads(summary_path.read_text())
    assert "cannot reach api_url" in summary["fatal_error"]


def test_an_unresolvable_host_is_named(tmp_path):
    run = run_tap("x", chaos_config("x", "https://no-such-host.invalid", max_retries=1),
                  tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    assert "cannot reach api_url https://no-such-host.invalid: name not resolved (DNS) " \
           "talking to no-such-host.invalid:443" in run.stderr


def test_a_server_that_never_answers_is_a_timeout(tmp_path):
    with silent_server() as url:
        config = chaos_config("x", url, max_retries=1, request_timeout=0.3)
        run = run_tap("x", config, tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    assert f"cannot reach api_url {url}: timed out waiting for the response " \
           "(request_timeout)" in run.stderr


def test_https_to_a_plain_http_port_is_a_tls_failure(tmp_path):
    with RecordingServer(200).running() as plain:
        url = plain.url.replace("http://", "https://")
        run = run_tap("x", chaos_config("x", url), tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    assert "setting 'api_url': TLS failure talking to 127.0.0.1" in run.stderr
    assert f"(api_url {url})" in run.stderr
    assert "is it an https endpoint?" in run.stderr
    assert plain.requests == [], "an HTTP request got through"


def test_the_api_path_prefix_given_twice_is_named(vendor, tmp_path):
    prefix = API_PREFIX[vendor]
    with run_sandbox(sandbox_config(vendor)) as sandbox:
        run = run_tap(vendor, chaos_config(vendor, sandbox.url + prefix), tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    assert f"setting 'api_url': '{sandbox.url}{prefix}' already ends with '{prefix}', which " \
           "the tap adds itself" in run.stderr
    # VendorZ's first request is its token endpoint, outside /v3: named all the same.
    first = f"{prefix}/oauth/token" if vendor == "z" else f"{prefix}{prefix}/"
    assert f"the first request went to {first}" in run.stderr
    assert f"set api_url to '{sandbox.url}'" in run.stderr


def test_a_redirect_is_not_followed_and_the_credential_stays_home(vendor, tmp_path):
    with RecordingServer(200).running() as elsewhere, \
            RecordingServer(302, {"Location": "PLACEHOLDER"}).running() as redirecting:
        redirecting.headers["Location"] = f"{elsewhere.url}/v1/accounts"
        run = run_tap(vendor, chaos_config(vendor, redirecting.url, max_retries=0), tmp_path)
    assert len(redirecting.requests) == 1
    assert elsewhere.requests == [], "the redirect was followed"
    assert run.returncode == 1
    assert "HTTP 302" in run.stderr
    assert SECRET not in run.stderr + run.stdout
