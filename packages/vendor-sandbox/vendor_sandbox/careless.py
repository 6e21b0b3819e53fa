"""Careless vendors and proxies: behaviour that is no fault of the contract's, but that real
deployments meet, switched on by knobs.

- `echo_credential`: error answers that repeat the credential they received (a debugging
  proxy, a vendor that logs the request into its error message).
- `late_account_after`: an account created while a client is paging through the listing,
  so that page-numbered (and offset-cursor) pages shift by one.
- `reset_header` / `reset_skew_s`: X-RateLimit-Reset in another unit than the contract's
  (epoch milliseconds, an epoch where seconds-until are documented), or from a clock that
  is off.
"""

from __future__ import annotations

import datetime
import json
import math
from typing import Any

from vendor_sandbox.config import SandboxConfig
from vendor_sandbox.httpserver import Response
from vendor_sandbox.ratelimit import Decision
from vendor_sandbox.world import Account, World, midnight

LATE_ACCOUNT = {"x": "acc_late", "y": "o-late", "z": "ws_late"}
_MESSAGE_KEYS = ("message", "detail")


def echo_credential(response: Response, credential: str, target: str) -> None:
    """Put `credential` into the error message(s), a URL in the body and a header."""
    response.headers.append(("X-Debug-Credential", credential))
    response.headers.append(("Link", f'<https://status.example/?key={credential}>; rel="help"'))
    echo = f" [request {target} sent credential {credential}]"
    if "json" not in response.content_type:
        response.body += f"<!-- {echo} -->".encode()
        return
    body = json.loads(response.body)
    _append_to_messages(body, echo)
    if isinstance(body, dict):
        body["documentation_url"] = f"https://docs.example/errors?key={credential}"
    response.body = json.dumps(body, separators=(",", ":")).encode()


def _append_to_messages(node: Any, text: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _MESSAGE_KEYS and isinstance(value, str):
                node[key] = value + text
            else:
                _append_to_messages(value, text)
    elif isinstance(node, list):
        for item in node:
            _append_to_messages(item, text)


# The unit each contract documents for X-RateLimit-Reset.
CONTRACT_RESET = {"x": "epoch", "y": "seconds"}
RESET = "X-RateLimit-Reset"


def restate_reset(headers: list[tuple[str, str]], decision: Decision,
                  config: SandboxConfig) -> None:
    """Rewrite X-RateLimit-Reset (if the vendor sends one) as the knobs say."""
    if not any(name == RESET for name, _ in headers):
        return
    style = CONTRACT_RESET[config.vendor] if config.reset_header == "contract" \
        else config.reset_header
    seconds = decision.seconds_to_reset() + config.reset_skew_s
    epoch = decision.reset_epoch() + config.reset_skew_s
    value = {"epoch": epoch, "epoch_ms": epoch * 1000, "seconds": seconds}[style]
    headers[:] = [(name, str(math.ceil(value)) if name == RESET else text)
                  for name, text in headers]


def with_late_account(world: World) -> World:
    """`world` with one more account, listed first, that has no services."""
    # Created a day before the first account, so the listing (creation order) puts it first.
    first = world.accounts[0].created if world.accounts else midnight(world.history_start)
    late = Account(LATE_ACCOUNT[world.vendor], "Latecomer", "starter",
                   first - datetime.timedelta(days=1))
    return World(
        vendor=world.vendor,
        seed=world.seed,
        revision_rate=world.revision_rate,
        history_start=world.history_start,
        accounts=(late, *world.accounts),
        services={**world.services, late.id: ()},
        account_by_id={**world.account_by_id, late.id: late},
        service_by_id=world.service_by_id,
    )
