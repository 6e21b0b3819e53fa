"""HTTP for the taps: retries with jittered backoff, rate limits, timeouts, one error policy.

The transport is urllib3 directly: its pool manager is thread-safe and sized to the
concurrency, and it costs less than half the CPU per call of a requests.Session — with
every worker sharing one interpreter lock, that is what bounds calls per second.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError, SSLError, TimeoutError

from tapkit.answer import Answer, NestedTooDeeply
from tapkit.bounded_read import BodyLimits, read_bounded
from tapkit.counters import RunCounters
from tapkit.error_rules import Action, ErrorRules
from tapkit.errors import (
    ConfigurationProblem,
    CredentialRejected,
    CursorExpired,
    PartitionError,
    RetryableError,
)
from tapkit.ratelimit import RateLimiter, RateLimitInfo

logger = logging.getLogger("tapkit.http")

DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
RateLimitParser = Callable[[Mapping[str, str]], RateLimitInfo]


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
    # Far above any legitimate page (the largest contract page is well under 1 MiB).
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES


class HttpClient:
    """GETs JSON from one vendor API with that vendor's `ErrorRules`."""

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        rules: ErrorRules,
        rate_limit_parser: RateLimitParser,
        credential_setting: str,
        retry: RetrySettings,
        pool_size: int,
        counters: RunCounters,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers)
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
        url = f"{self.base_url}{path}"
        failures = 0
        rate_limited = 0
        while True:
            try:
                return self._attempt(url, params, scope=scope, what=what)
            except _RateLimited as limited:
                # Waiting out a rate limit is not a failure of the request; it has its own,
                # larger budget so that a server that never lets us through still ends.
                rate_limited += 1
                if rate_limited > self._retry.max_rate_limited_retries:
                    raise PartitionError(
                        what, f"still rate limited after {rate_limited} waits ({limited.detail})"
                    ) from None
            except RetryableError as retryable:
                failures += 1
                if failures >= self._retry.max_attempts:
                    raise PartitionError(
                        what, f"{retryable.detail} (gave up after {failures} attempts)"
                    ) from None
                self._counters.add("retries")
                wait = retryable.wait_s if retryable.wait_s is not None else self._backoff(failures)
                logger.info(
                    "%s: %s; retry %d/%d in %.2fs",
                    what, retryable.detail, failures, self._retry.max_attempts - 1, wait,
                )
                self._sleep(wait)

    def _attempt(self, url: str, params: Mapping[str, Any], *, scope: str, what: str) -> Any:
        self._limiter.acquire(scope)
        self._counters.add("requests")
        limits = self._body_limits
        started = time.monotonic()  # the response deadline counts from here
        try:
            raw = self._pool_manager().request(
                "GET", url, fields=dict(params), headers=self._headers,
                timeout=urllib3.Timeout(connect=self._retry.connect_timeout_s,
                                        read=min(limits.read_timeout_s, limits.deadline_s)),
                retries=False, redirect=False, preload_content=False,
            )
        except TimeoutError as timeout:
            raise RetryableError(f"timed out ({type(timeout).__name__})") from None
        except SSLError as error:
            # A certificate that does not verify will not verify on the next attempt either.
            raise ConfigurationProblem(
                "ca_bundle", f"TLS verification of {self.base_url} failed ({error}); for a "
                "private CA set ca_bundle to its PEM file",
            ) from None
        except HTTPError as error:
            raise RetryableError(f"connection failed ({type(error).__name__})") from None
        body = read_bounded(raw, started=started, limits=limits)
        response = Answer(raw.status, raw.headers, body)
        self._limiter.observe(scope, self._parse_rate_limit(response.headers))
        return self._judge(response, scope=scope, what=what)

    def _judge(self, response: Answer, *, scope: str, what: str) -> Any:
        action = self._rules.action_for(response)
        if action is Action.OK:
            try:
                payload = response.json()
            except ValueError as error:
                reason = f": {error}" if isinstance(error, NestedTooDeeply) else ""
                raise RetryableError(
                    f"HTTP {response.status_code} with a malformed JSON body{reason}"
                ) from None
            verdict = self._rules.body_rule(response, payload)
            if verdict is None:
                return payload
            action, detail = verdict
        else:
            detail = self._rules.describe(response)
        if action is Action.OK:
            return payload
        if action is Action.RETRY:
            raise RetryableError(detail, wait_s=self._capped_hint(response, what))
        if action is Action.RATE_LIMITED:
            self._counters.add("rate_limited")
            wait = self._capped_hint(response, what)
            self._limiter.penalize(scope, 1.0 if wait is None else wait)
            # The limiter now holds this and every other request in the scope until then.
            raise _RateLimited(detail)
        if action is Action.AUTH_FAILED:
            raise CredentialRejected(self._credential_setting, response.status_code, detail)
        if action is Action.RESTART_LISTING:
            raise CursorExpired(detail)
        raise PartitionError(what, detail, status=response.status_code)

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


class _RateLimited(RetryableError):
    """Internal: a 429 whose wait the limiter already scheduled."""
