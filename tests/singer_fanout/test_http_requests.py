"""The kit's HTTP client beyond GET-and-JSON, against a real server on loopback (the bundled
sandbox's OAuth2 / Link / report API): bodies, raw answers, headers, Link pages, token
renewal, idempotency keys, a published rate without budget headers."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from singer_fanout.answer import Answer
from singer_fanout.auth import OAuth2ClientCredentials, StaticHeaders
from singer_fanout.counters import RunCounters
from singer_fanout.error_rules import Action, ErrorRules
from singer_fanout.errors import CredentialRejected, PartitionError
from singer_fanout.http_client import HttpClient, RetrySettings
from singer_fanout.links import link_pages, retry_after_s
from singer_fanout.pacing import Pacer, PublishedRate
from singer_fanout.ratelimit import RateLimitInfo
from singer_fanout.redaction import SecretRedactor
from vendor_sandbox import Sandbox, SandboxConfig, run_sandbox, truth_records

TODAY = dt.date(2026, 11, 20)
SECRET = "client-secret-under-test"
WRONG_SECRET = "wrong-secret"
TOKEN_PATH = "/oauth/token"


def _code(response: Answer) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


RULES = ErrorRules(
    code_actions={"invalid_token": Action.RENEW_CREDENTIAL},
    error_code=_code,
    wait_hint=lambda response: retry_after_s(response.headers.get("Retry-After")),
)


def client_for(box: Sandbox, *, auth: Any = None, idempotency_header: str | None = None,
               pacer: Pacer | None = None, read_timeout_s: float = 10.0,
               secrets: list[str] | None = None) -> HttpClient:
    redactor = SecretRedactor(secrets or [])
    return HttpClient(
        base_url=box.url, headers={}, rules=RULES,
        auth=auth or OAuth2ClientCredentials(token_path=TOKEN_PATH,
                                             client_id="sandbox-client",
                                             client_secret=SECRET, on_secret=redactor.add),
        idempotency_header=idempotency_header, pacer=pacer,
        rate_limit_parser=lambda _headers: RateLimitInfo(None, None, None),
        credential_setting="client_secret",
        retry=RetrySettings(max_attempts=4, backoff_base_s=0.01, backoff_max_s=0.05,
                            read_timeout_s=read_timeout_s),
        pool_size=8, counters=RunCounters(),
    )


@pytest.fixture
def box() -> Iterator[Sandbox]:
    config = SandboxConfig(vendor="z", seed=5, today=TODAY, accounts=3, token=SECRET,
                           rate_limit=100_000, report_delay_s=0.0)
    with run_sandbox(config) as running:
        yield running


def a_project(box: Sandbox) -> str:
    record = next(r for r in truth_records(box.config) if r["type"] == "service")
    return f"/v3/workspaces/{record['account_id']}/projects/{record['service_id']}/reports"


def test_post_json_and_form_bodies_and_a_csv_answer(box) -> None:
    client = client_for(box)  # the OAuth2 token is a form POST
    created = client.request("POST", a_project(box), json_body={"from": "2026-11-01",
                                                                "to": "2026-11-03"},
                             scope="s", what="create")
    assert created.status_code == 202
    report = created.payload["report_id"]
    status = client.get_json(f"/v3/reports/{report}", {}, scope="s", what="status")
    csv = client.request("GET", status["download_url"], scope="s", what="download",
                         parse_json=False)
    assert csv.payload is None
    assert [row["date"] for row in csv.csv_rows()] == ["2026-11-01", "2026-11-02", "2026-11-03"]


def test_link_pages_follow_next_and_expose_headers(box) -> None:
    client = client_for(box)
    pages = list(link_pages(client, "/v3/workspaces", {"per_page": 1}, scope="s", what="ws"))
    assert len(pages) == 3
    assert "Link" in pages[0].headers
    assert "Link" not in pages[-1].headers
    ids = [page.payload["data"][0]["id"] for page in pages]
    assert ids == [r["account_id"] for r in truth_records(box.config) if r["type"] == "account"]


def test_a_next_link_to_another_host_is_refused(box) -> None:
    workspace = next(r for r in truth_records(box.config) if r["type"] == "account")["account_id"]
    box.update(hostile_services={workspace: "foreign_link"}, services_per_account=(3, 3))
    client = client_for(box)
    with pytest.raises(PartitionError, match="refusing to follow a link to another host"):
        list(link_pages(client, f"/v3/workspaces/{workspace}/projects", {"per_page": 1},
                        scope="s", what="projects"))


def test_one_token_is_shared_by_all_workers(box) -> None:
    client = client_for(box)
    threads = [threading.Thread(target=client.get_json, args=("/v3/workspaces", {}),
                                kwargs={"scope": "s", "what": "ws"}) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert box.stats()["events"]["tokens_issued"] == 1


def test_a_token_is_renewed_before_it_expires(box) -> None:
    box.update(token_ttl_s=1.0)  # renewed a tenth of its life before the end: at 0.9 s
    client = client_for(box)
    deadline = time.monotonic() + 2.2
    while time.monotonic() < deadline:
        client.get_json("/v3/workspaces", {}, scope="s", what="ws")
        time.sleep(0.05)
    events = box.stats()["events"]
    assert events["tokens_issued"] == 3
    assert "invalid_token" not in events  # never sent a dead token


def test_a_revoked_token_is_renewed_once_and_the_request_passes(box) -> None:
    client = client_for(box)
    client.get_json("/v3/workspaces", {}, scope="s", what="ws")
    box.revoke_tokens()
    assert client.get_json("/v3/workspaces", {}, scope="s", what="ws")["data"]
    assert box.stats()["events"] == {"tokens_issued": 2, "invalid_token": 1}


def test_a_token_refused_right_after_renewal_is_a_credential_problem(box) -> None:
    client = client_for(box, auth=StaticHeaders({"Authorization": "Bearer zat_forged"}))
    with pytest.raises(CredentialRejected, match="client_secret"):
        client.get_json("/v3/workspaces", {}, scope="s", what="ws")


def test_a_wrong_client_secret_is_a_credential_problem_naming_the_setting(box) -> None:
    auth = OAuth2ClientCredentials(token_path=TOKEN_PATH, client_id="sandbox-client",
                                   client_secret=WRONG_SECRET, on_secret=lambda _t: None)
    with pytest.raises(CredentialRejected, match=r"setting 'client_secret' \(HTTP 401"):
        client_for(box, auth=auth).get_json("/v3/workspaces", {}, scope="s", what="ws")


def test_tokens_are_masked_in_logs_once_obtained(box, caplog) -> None:
    redactor = SecretRedactor([SECRET])
    auth = OAuth2ClientCredentials(token_path=TOKEN_PATH, client_id="sandbox-client",
                                   client_secret=SECRET, on_secret=redactor.add)
    client_for(box, auth=auth).get_json("/v3/workspaces", {}, scope="s", what="ws")
    token = auth.headers(client_for(box))["Authorization"].split()[1]
    logger = logging.getLogger("singer_fanout.test.redaction")
    logger.addFilter(redactor)
    with caplog.at_level(logging.INFO, logger="singer_fanout.test.redaction"):
        logger.info("header was Bearer %s and secret %s", token, SECRET)
    assert token not in caplog.text
    assert SECRET not in caplog.text
    assert "Bearer ****" in caplog.text


def test_a_timed_out_post_is_retried_with_the_same_idempotency_key(box) -> None:
    client = client_for(box, idempotency_header="Idempotency-Key", read_timeout_s=0.2)
    client.get_json("/v3/workspaces", {}, scope="s", what="token first")
    box.update(stall_rate=0.5, stall_s=0.4)  # some attempts time out, a later one passes
    created = client.request("POST", a_project(box), json_body={"from": "2026-11-01",
                                                                "to": "2026-11-02"},
                             scope="s", what="create")
    assert created.status_code == 202
    events = box.stats()["events"]
    assert events["reports_created"] == 1
    assert events.get("idempotent_replays", 0) >= 1


def test_without_an_idempotency_key_a_timed_out_post_is_not_sent_again(box) -> None:
    client = client_for(box, read_timeout_s=0.2)
    client.get_json("/v3/workspaces", {}, scope="s", what="token first")
    box.update(stall_rate=1.0, stall_s=0.4)
    with pytest.raises(PartitionError, match="may already have taken effect"):
        client.request("POST", a_project(box), json_body={"from": "2026-11-01",
                                                          "to": "2026-11-02"},
                       scope="s", what="create")
    time.sleep(0.3)
    assert box.stats()["events"]["reports_created"] == 1  # once: it did take effect


def test_a_post_refused_with_503_is_sent_again_even_without_a_key(box) -> None:
    client = client_for(box)
    client.get_json("/v3/workspaces", {}, scope="s", what="token first")
    box.refuse_next(2)  # 429s: not processed
    created = client.request("POST", a_project(box), json_body={"from": "2026-11-01",
                                                                "to": "2026-11-01"},
                             scope="s", what="create")
    assert created.status_code == 202


@pytest.mark.parametrize("paced", [False, True])
def test_a_published_rate_keeps_429s_away_without_budget_headers(paced) -> None:
    config = SandboxConfig(vendor="z", seed=5, today=TODAY, token=SECRET, rate_limit=10,
                           rate_limit_window_s=0.5)  # 20 per second, a burst of 10
    with run_sandbox(config) as box:
        pacer = Pacer(PublishedRate(10, 0.5)) if paced else None
        client = client_for(box, pacer=pacer)
        for _ in range(40):
            client.get_json("/v3/workspaces", {}, scope="s", what="ws")
        refused = box.stats()["rate_limited"]
        early = box.stats()["early_retries"]
    if paced:
        assert refused == 0
    else:
        assert refused > 0  # what the pacer prevents
        assert early == 0  # the HTTP-date Retry-After was honoured
