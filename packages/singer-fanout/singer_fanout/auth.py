"""How a tap proves who it is: static headers (an API key, a bearer token) or OAuth2
client credentials, behind one small interface the HTTP client calls on every attempt.

OAuth2 access tokens are fetched once and shared by every worker, renewed shortly before
they expire and once more when the vendor says a token is no longer valid (expired early,
revoked). A token is a secret obtained at run time: it is handed to `on_secret` (the log
redactor) the moment it arrives, and never formatted into a message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from singer_fanout.errors import PartitionError

if TYPE_CHECKING:
    from singer_fanout.http_client import HttpClient

# A token is renewed this long before the vendor said it expires (at most a tenth of its
# lifetime), so a request never leaves with a token that dies on the way.
RENEW_BEFORE_S = 60.0


class Auth(Protocol):
    def headers(self, client: HttpClient) -> Mapping[str, str]:
        """The headers that authenticate the next request (may fetch a token first)."""
        ...

    def renew(self, used: Mapping[str, str]) -> bool:
        """The vendor refused `used` as stale: drop it. True when a retry may now pass."""
        ...


class StaticHeaders:
    """A credential that never changes (an API key or a long-lived token)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    def headers(self, client: HttpClient) -> Mapping[str, str]:
        return self._headers

    def renew(self, used: Mapping[str, str]) -> bool:
        return False


class OAuth2ClientCredentials:
    """The OAuth2 client credentials grant (RFC 6749 §4.4) with a form body."""

    def __init__(
        self,
        *,
        token_path: str,
        client_id: str,
        client_secret: str,
        on_secret: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token_path = token_path
        self._form = {"grant_type": "client_credentials", "client_id": client_id,
                      "client_secret": client_secret}
        self._on_secret = on_secret
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self.tokens_fetched = 0

    def headers(self, client: HttpClient) -> Mapping[str, str]:
        # One worker fetches while the others wait for its token: never a stampede.
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._fetch(client)
            assert self._token is not None
            return {"Authorization": f"Bearer {self._token}"}

    def renew(self, used: Mapping[str, str]) -> bool:
        with self._lock:
            if used.get("Authorization") == f"Bearer {self._token}":
                self._token = None  # only the token that failed; another may be newer
            return True

    def _fetch(self, client: HttpClient) -> None:
        started = self._clock()
        payload: Any = client.request(
            "POST", self._token_path, form=self._form, scope="oauth2-token",
            what="OAuth2 token request", credential_request=True,
        ).payload
        token = payload.get("access_token") if isinstance(payload, dict) else None
        expires_in = payload.get("expires_in") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise PartitionError("OAuth2 token request", "the answer has no access_token")
        self._on_secret(token)
        lifetime = float(expires_in) if isinstance(expires_in, (int, float)) else 3600.0
        self._token = token
        self._renew_at = started + max(lifetime - min(RENEW_BEFORE_S, lifetime / 10), 0.0)
        self.tokens_fetched += 1
