"""One declared error handler per vendor: every HTTP outcome maps to one action.

A tap declares its `ErrorRules` once in its client module (status → action, how the vendor
says how long to wait, how its error bodies read, which 200s are not really successes);
the HTTP client applies them. No stream repeats error handling.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from singer_fanout.answer import Answer


class Action(enum.Enum):
    OK = "ok"
    RETRY = "retry"  # transient: back off with jitter and try again
    RATE_LIMITED = "rate_limited"  # wait as long as the server says, then try again
    AUTH_FAILED = "auth_failed"  # the credential is wrong: stop the whole run
    RENEW_CREDENTIAL = "renew_credential"  # a token expired: get a new one, retry once
    RESTART_LISTING = "restart_listing"  # the cursor expired: start that listing over
    FAIL = "fail"  # permanent for this request: the partition fails, the run goes on


def _default_status_action(status: int) -> Action:
    if status < 300:
        return Action.OK
    if status == 429:
        return Action.RATE_LIMITED
    if status in (401, 403):
        return Action.AUTH_FAILED
    if status in (408, 425) or status >= 500:
        return Action.RETRY
    return Action.FAIL


def _no_wait_hint(_response: Answer) -> float | None:
    return None


def _status_text(response: Answer) -> str:
    return f"HTTP {response.status_code}"


def _no_body_rule(_response: Answer, _payload: Any) -> tuple[Action, str] | None:
    return None


@dataclass(frozen=True)
class ErrorRules:
    """How one vendor's responses are read.

    status_actions: overrides of the default mapping (2xx ok, 429 rate limited, 401/403
        credential, 408/425/5xx retry, other 4xx fail).
    wait_hint: seconds the server asks us to wait (Retry-After, a reset header), if any.
    describe: a short, secret-free description of an error response (code and message).
    body_rule: a look at a parsed 2xx body that may turn it into another action, e.g. a
        partial answer that must be retried, or an expired cursor.
    code_actions: vendor error codes (as returned by `error_code`) that override the status.
    """

    status_actions: Mapping[int, Action] = field(default_factory=dict)
    wait_hint: Callable[[Answer], float | None] = _no_wait_hint
    describe: Callable[[Answer], str] = _status_text
    error_code: Callable[[Answer], str | None] = lambda _response: None
    code_actions: Mapping[str, Action] = field(default_factory=dict)
    body_rule: Callable[[Answer, Any], tuple[Action, str] | None] = _no_body_rule

    def action_for(self, response: Answer) -> Action:
        if response.status_code >= 300:
            code = self.error_code(response)
            if code is not None and code in self.code_actions:
                return self.code_actions[code]
        return self.status_actions.get(
            response.status_code, _default_status_action(response.status_code)
        )
