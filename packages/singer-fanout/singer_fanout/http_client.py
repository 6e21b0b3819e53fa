"""HTTP for the taps: retries with jittered backoff, rate limits, timeouts, one error policy.

Any method, with a JSON or form body, answering JSON or a raw body (CSV, text): the
caller gets a `Reply` with the status, the headers (for `Link` pagination) and the body.
Authentication comes from an `Auth` (static headers or OAuth2 client credentials, see
auth.py), asked on every attempt. A request that is not idempotent (POST, PATCH) is only
retried when it cannot have taken effect twice: with the vendor's idempotency-key header,
or when it provably never reached the server (connection refused) or the server said it
did not process it (429, 503).

The transport is urllib3 directly: its pool manager is thread-safe and sized to the
concurrency, and it costs less than half the CPU per call of a requests.Session — with
every worker sharing one interpreter lock, that is what bounds calls per second.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError, SSLError

from singer_fanout.answer import Answer, NestedTooDeeply, Reply
from singer_fanout.auth import Auth, StaticHeaders
from singer_fanout.bounded_read import BodyLimits, read_bounded
from singer_fanout.counters import RETRY_CAUSE_PREFIX, RunCounters
from singer_fanout.error_rules import Action, ErrorRules
from singer_fanout.errors import (
    ConfigurationProblem,
    CredentialRejected,
    CursorExpired,
    PartitionError,
    PermissionDenied,
    RetryableError,
    TransportFailure,
)
from singer_fanout.links import same_origin
from singer_fanout.metrics import log_http_request
from singer_fanout.pacing import Pacer
from singer_fanout.ratelimit import RateLimiter, RateLimitInfo, Ticket
from singer_fanout.transport import describe_transport_error, host_of

logger = logging.getLogger("singer_fanout.http")

# Far above any legitimate page (the largest contract page is well under 1 MiB).
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
RateLimitParser = Callable[[Mapping[str, str]], RateLimitInfo]
# The `what` of a credential check: the run's first successful request, sent again.
_CREDENTIAL_CHECK = "credential check (the run's first successful request, sent again)"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Answers that say the server did not act on the request: safe to send any method again.
NOT_PROCESSED = frozenset({429, 503})


@dataclass(frozen=True)
class _Call:
    """One logical request, the same on every attempt."""

    method: str
    url: str
    params: Mapping[str, Any]
    body: bytes | None
    headers: Mapping[str, str]
    scope: str
    what: str
    parse_json: bool = True
    credential_request: bool = False  # the credential exchange itself: no auth, no renewal
    # A non-idempotent request without an idempotency key: retried only when provably
    # not processed.
    once_only: bool = False


@dataclass(frozen=True)
class RetrySettings:
    max_attempts: int = 6
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    # A server asking us to wait longer than this is treated as a failure of the request.
    max_rate_limit_wait_s: float = 300.0
    max_rate_limited_retries: int = 50
    ca_bundle: str | None = None
    # The whole response, request sent to last byte; None: twice read_timeout_s.
    response_deadline_s: float | None = None
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES


class HttpClient:
    """Requests to one vendor API with that vendor's `ErrorRules`."""

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        rules: ErrorRules,
        auth: Auth | None = None,
        idempotency_header: str | None = None,
        pacer: Pacer | None = None,
        rate_limit_parser: RateLimitParser,
        credential_setting: str,
        retry: RetrySettings,
        pool_size: int,
        counters: RunCounters,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        api_path: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_path = api_path
        self._headers = dict(headers)
        self._auth: Auth = auth or StaticHeaders({})
        self._idempotency_header = idempotency_header
        self._pacer = pacer
        self._rules = rules
        self._parse_rate_limit = rate_limit_parser
        self._credential_setting = credential_setting
        self._retry = retry
        self._pool_size = pool_size
        self._counters = counters
        self._limiter = limiter or RateLimiter()
        self._sleep = sleep
        self._pool_lock = threading.Lock()
        self._pool: urllib3.PoolManager | None = None
        self._body_limits = BodyLimits(
            deadline_s=retry.response_deadline_s or 2 * retry.read_timeout_s,
            max_bytes=retry.max_response_bytes,
            read_timeout_s=retry.read_timeout_s,
        )
        self._timeout = urllib3.Timeout(
            connect=retry.connect_timeout_s,
            read=min(self._body_limits.read_timeout_s, self._body_limits.deadline_s),
        )
        # The first request that succeeded: proof that the credential worked, and what is
        # sent again to tell a revoked credential from one account's missing permission.
        self._proof: _Call | None = None
        self._answered = False  # any HTTP answer at all, whatever its status

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.clear()
                self._pool = None

    def get_json(self, path: str, params: Mapping[str, Any], *, scope: str, what: str) -> Any:
        """GET base_url + path and return the parsed body, retrying what the rules allow.

        `scope` names the vendor's rate-limit bucket; `what` describes the request in
        errors and logs (ids and dates, never secrets).
        """
        return self.request("GET", path, params=params, scope=scope, what=what).payload

    def request(
        self,
        method: str,
        target: str,
        *,
        scope: str,
        what: str,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        parse_json: bool = True,
        credential_request: bool = False,
    ) -> Reply:
        """Send `method` to base_url + target (or to `target` itself, an absolute URL of the
        same origin, e.g. a `Link` next page) and return the successful answer.

        `json_body` or `form` is the body. `parse_json=False` takes the body as it comes
        (CSV, text) and skips the rules' look at JSON bodies.
        """
        method = method.upper()
        headers: dict[str, str] = {}
        body: bytes | None = None
        if json_body is not None:
            body, headers["Content-Type"] = json.dumps(json_body).encode(), "application/json"
        elif form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        once_only = False
        if method not in IDEMPOTENT_METHODS and not credential_request:
            if self._idempotency_header:
                # One key for every attempt: the vendor applies the request at most once.
                headers[self._idempotency_header] = uuid.uuid4().hex
            else:
                once_only = True
        call = _Call(method, self._url_for(target, what), dict(params or {}), body, headers,
                     scope, what, parse_json, credential_request, once_only)
        return self._send(call)

    def _url_for(self, target: str, what: str) -> str:
        if "://" not in target:
            return f"{self.base_url}{target}"
        if not same_origin(target, self.base_url):
            # Our credential goes with every request: never to a host api_url did not name.
            raise PartitionError(
                what, f"refusing to follow a link to another host ({urlsplit(target).netloc}"
                f"); api_url is {self.base_url}",
            )
        return target

    def _send(self, call: _Call) -> Reply:
        failures = 0
        rate_limited = 0
        renewed = False
        while True:
            auth_headers = {} if call.credential_request else self._auth.headers(self)
            try:
                reply = self._attempt(call, auth_headers)
                if self._proof is None and call.method == "GET":
                    self._proof = call
                return reply
            except _StaleCredential as stale:
                # An expired or revoked token: get a new one and try once more.
                if renewed or not self._auth.renew(auth_headers):
                    self._auth_failed(call.what, stale.status, stale.detail)
                renewed = True
                self._counters.add("credential_renewals")
                continue
            except PartitionError as error:
                first = self._proof is None and (call.method == "GET" or call.credential_request)
                if error.status == 404 and first:
                    # Nothing has worked yet and the very first listing (or the token
                    # endpoint) does not exist: the base URL is wrong, not one account.
                    path = call.url[len(self.base_url):]
                    raise ConfigurationProblem(
                        "api_url",
                        _not_found_hint(self.base_url, path, error.detail, self._api_path),
                    ) from None
                raise
            except _RateLimited as limited:
                # Waiting out a rate limit is not a failure of the request; it has its own,
                # larger budget so that a server that never lets us through still ends.
                rate_limited += 1
                if rate_limited > self._retry.max_rate_limited_retries:
                    raise PartitionError(
                        call.what,
                        f"still rate limited after {rate_limited} waits ({limited.detail})",
                    ) from None
            except RetryableError as retryable:
                if call.once_only and not retryable.not_processed:
                    raise PartitionError(
                        call.what, f"{retryable.detail}; a {call.method} without an "
                        "idempotency key may already have taken effect, so it is not sent again",
                    ) from None
                failures += 1
                if failures >= self._retry.max_attempts:
                    if isinstance(retryable, TransportFailure) and not self._answered:
                        # Not one HTTP answer in the whole run: the endpoint is wrong or
                        # unreachable from here, and every other partition would fail too.
                        raise ConfigurationProblem(
                            "api_url", f"cannot reach api_url {self.base_url}: "
                            f"{retryable.detail} (gave up after {failures} attempts)",
                        ) from None
                    raise PartitionError(
                        call.what, f"{retryable.detail} (gave up after {failures} attempts)"
                    ) from None
                self._counters.add("retries")
                self._counters.add(RETRY_CAUSE_PREFIX + retryable.cause)
                wait = retryable.wait_s if retryable.wait_s is not None else self._backoff(failures)
                # One line per retry is noise at INFO (hundreds in a bad hour): progress lines
                # and the summary count them by cause; each one is here at DEBUG.
                logger.debug(
                    "%s: %s; retry %d/%d in %.2fs",
                    call.what, retryable.detail, failures, self._retry.max_attempts - 1, wait,
                )
                self._sleep(wait)

    def _attempt(self, call: _Call, auth_headers: Mapping[str, str]) -> Reply:
        if self._pacer is not None:
            self._pacer.acquire()
        ticket = self._limiter.acquire(call.scope)
        self._counters.add("requests")
        url = call.url
        if call.params:
            url += ("&" if "?" in url else "?") + urlencode(call.params)
        limits = self._body_limits
        started = time.monotonic()  # the response deadline counts from here
        try:
            raw = self._pool_manager().request(
                call.method, url, body=call.body,
                headers={**self._headers, **auth_headers, **call.headers},
                timeout=self._timeout,
                retries=False, redirect=False, preload_content=False,
            )
        except SSLError as error:
            raise self._tls_problem(error) from None
        except HTTPError as error:
            cause = describe_transport_error(error)
            failure = TransportFailure(
                f"{cause} talking to {host_of(url)} (api_url {self.base_url})", cause=cause
            )
            # Never connected: the request cannot have reached the server.
            failure.not_processed = isinstance(error, (NewConnectionError, ConnectTimeoutError))
            raise failure from None
        self._answered = True
        body = read_bounded(raw, started=started, limits=limits)
        log_http_request(call.url, raw.status, time.monotonic() - started)  # SDK METRIC
        response = Answer(raw.status, raw.headers, body)
        self._limiter.observe(call.scope, self._parse_rate_limit(response.headers), ticket)
        try:
            payload = self._judge(response, scope=call.scope, what=call.what,
                                  parse_json=call.parse_json,
                                  credential_request=call.credential_request, ticket=ticket)
        except RetryableError as retryable:
            retryable.not_processed = response.status_code in NOT_PROCESSED
            raise
        return Reply(response.status_code, response.headers, response.body, payload)

    def _judge(
        self, response: Answer, *, scope: str, what: str, parse_json: bool = True,
        credential_request: bool = False, ticket: Ticket | None = None,
    ) -> Any:
        action = self._rules.action_for(response)
        if action is Action.OK and not parse_json:
            return None
        if action is Action.OK:
            try:
                payload = response.json()
            except ValueError as error:
                reason = f": {error}" if isinstance(error, NestedTooDeeply) else ""
                raise RetryableError(
                    f"HTTP {response.status_code} with a malformed JSON body{reason}",
                    cause="malformed JSON body",
                ) from None
            verdict = self._rules.body_rule(response, payload)
            if verdict is None:
                return payload
            action, detail = verdict
            # The body rule's words before any detail in brackets: "partial answer".
            cause = detail.split(" (")[0]
        else:
            detail = self._rules.describe(response)
            cause = f"HTTP {response.status_code}"
        if action is Action.OK:
            return payload
        if action is Action.RETRY:
            raise RetryableError(detail, wait_s=self._capped_hint(response, what), cause=cause)
        if action is Action.RATE_LIMITED:
            self._counters.add("rate_limited")
            wait = self._capped_hint(response, what)
            self._limiter.penalize(scope, 1.0 if wait is None else wait, ticket)
            # The limiter now holds this and every other request in the scope until then.
            raise _RateLimited(detail)
        if action in (Action.RENEW_CREDENTIAL, Action.AUTH_FAILED) and credential_request:
            # The credential exchange itself was refused: the credential is wrong (revoked,
            # when it worked earlier in the run).
            raise CredentialRejected(self._credential_setting, response.status_code, detail,
                                     mid_run=self._proof is not None)
        if action is Action.RENEW_CREDENTIAL:
            raise _StaleCredential(detail, response.status_code)
        if action is Action.AUTH_FAILED:
            self._auth_failed(what, response.status_code, detail)
        if action is Action.RESTART_LISTING:
            raise CursorExpired(detail)
        raise PartitionError(what, detail, status=response.status_code)

    def _auth_failed(self, what: str, status: int, detail: str) -> None:
        setting = self._credential_setting
        if self._proof is None:
            raise CredentialRejected(setting, status, detail)
        if what == _CREDENTIAL_CHECK:
            raise CredentialRejected(setting, status, detail, mid_run=True)
        self._check_credential()
        raise PermissionDenied(what, detail, status=status, setting=setting)

    def _check_credential(self) -> None:
        """Send the run's first successful request again: refused too means the credential
        itself was revoked (CredentialRejected, the run stops); anything else means only the
        partition at hand is out of the credential's reach."""
        assert self._proof is not None
        check = dataclasses.replace(self._proof, what=_CREDENTIAL_CHECK)
        try:
            self._attempt(check, self._auth.headers(self))
        except CredentialRejected:
            raise
        except Exception as error:  # a 5xx or 429 says nothing about the credential
            logger.debug("credential check inconclusive: %s", error)

    def _tls_problem(self, error: SSLError) -> ConfigurationProblem:
        # A TLS failure will not go away on the next attempt: it is the endpoint or the CAs.
        where = f"{host_of(self.base_url)} (api_url {self.base_url})"
        if "certificate" in str(error).lower():
            return ConfigurationProblem(
                "ca_bundle", f"TLS failure: the certificate of {where} did not verify "
                f"({error}); for a private CA set ca_bundle to its PEM file",
            )
        return ConfigurationProblem(
            "api_url", f"TLS failure talking to {where} ({error}); is it an https endpoint?"
        )

    def _capped_hint(self, response: Answer, what: str) -> float | None:
        hint = self._rules.wait_hint(response)
        if hint is None:
            return None
        if hint > self._retry.max_rate_limit_wait_s:
            raise PartitionError(
                what, f"the server asked to wait {hint:.0f}s, more than the "
                f"{self._retry.max_rate_limit_wait_s:.0f}s this tap is allowed to wait",
                status=response.status_code,
            )
        return max(hint, 0.0)

    def _backoff(self, attempt: int) -> float:
        # Jittered exponential: spreads the retries of many workers instead of syncing them.
        # The exponent is capped: 2 ** 1024 no longer fits a float.
        exponent = min(attempt - 1, 60)
        ceiling = min(self._retry.backoff_max_s, self._retry.backoff_base_s * 2**exponent)
        return random.uniform(ceiling / 2, ceiling)

    def _pool_manager(self) -> urllib3.PoolManager:
        with self._pool_lock:
            if self._pool is None:
                # TLS verification is never turned off; `ca_bundle` replaces the system's
                # trusted CAs with the bundle's (a private CA).
                self._pool = urllib3.PoolManager(
                    num_pools=4, maxsize=self._pool_size, block=False,
                    cert_reqs="CERT_REQUIRED", ca_certs=self._retry.ca_bundle,
                )
            return self._pool


def _not_found_hint(base_url: str, path: str, detail: str, api_path: str = "") -> str:
    """Why the run's first request found nothing: most often a path prefix given twice,
    either the first request's own or the API's (when that request, say a token
    endpoint, lies outside the API's path)."""
    base_path = urlsplit(base_url).path.rstrip("/")
    request = f"{base_path}{path}"
    segments = [s for s in base_path.split("/") if s]
    for wanted in ([s for s in path.split("/") if s], [s for s in api_path.split("/") if s]):
        for size in range(min(len(segments), len(wanted)), 0, -1):
            if segments[-size:] == wanted[:size]:
                prefix = "/" + "/".join(segments[-size:])
                fixed = base_url[: len(base_url) - len(prefix)] or base_url
                return (f"{base_url!r} already ends with {prefix!r}, which the tap adds "
                        f"itself: the first request went to {request} ({detail}); set "
                        f"api_url to {fixed!r}")
    return (f"the first request, {request}, does not exist ({detail}); api_url should be "
            "the vendor's base URL (scheme and host, and a proxy's path prefix if any)")


class _RateLimited(RetryableError):
    """Internal: a 429 whose wait the limiter already scheduled."""


class _StaleCredential(Exception):
    """Internal: the vendor says the credential expired; renewing it may help."""

    def __init__(self, detail: str, status: int) -> None:
        super().__init__(detail)
        self.detail, self.status = detail, status
