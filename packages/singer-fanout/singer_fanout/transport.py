"""The vendor endpoint as a setting: which `api_url`s are acceptable, and what a failure to
reach it is called.

A credential sent over plain HTTP to another machine can be read by anyone on the path, so
`http://` is only accepted for loopback (the sandbox, a local proxy) unless the operator
opts in with `allow_insecure_http`. Transport failures are named by their cause (refused,
name not resolved, TLS, timed out, dropped) with the host and `api_url`, so an operator can
tell a typo in the URL from a vendor outage.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)

from singer_fanout.errors import ConfigurationProblem

INSECURE_OPT_IN = "allow_insecure_http"


def check_api_url(url: str, *, allow_insecure_http: bool) -> str:
    """The URL without a trailing slash, or ConfigurationProblem naming `api_url`."""
    text = str(url).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        if "://" not in text:
            problem = (f"{text!r} has no scheme; write it in full, e.g. "
                       f"'https://{text.lstrip('/')}'")
        else:
            problem = f"{text!r} is not an http(s) URL; e.g. 'https://api.example.com'"
        raise ConfigurationProblem("api_url", problem)
    if parts.username or parts.password:
        # The userinfo would be logged with the URL; credentials go in their own setting.
        raise ConfigurationProblem(
            "api_url", "must not carry a user or password; use the credential setting"
        )
    if parts.query or parts.fragment:
        raise ConfigurationProblem("api_url", f"{text!r}: a base URL takes no query or fragment")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(parts.hostname):
        raise ConfigurationProblem(
            "api_url",
            f"{text!r} is plain http to another machine: the credential would cross the "
            f"network unencrypted. Use https://, or set {INSECURE_OPT_IN}: true if the path "
            "is private (a sidecar proxy)",
        )
    return text.rstrip("/")


def is_loopback(host: str | None) -> bool:
    """Whether `host` is this machine: localhost, 127.0.0.0/8 or ::1 (no DNS lookup)."""
    if not host:
        return False
    if host.lower() in ("localhost", "localhost.") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# Most specific first: in urllib3 a NameResolutionError is a NewConnectionError, and a
# NewConnectionError is (for old callers' sake) a ConnectTimeoutError.
_NAMES: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    ((NameResolutionError, socket.gaierror), "name not resolved (DNS)"),
    ((ConnectionRefusedError,), "connection refused"),
    ((ConnectTimeoutError,), "timed out connecting (connect_timeout)"),
    ((ReadTimeoutError,), "timed out waiting for the response (request_timeout)"),
    ((ProxyError,), "proxy failure"),
    ((ConnectionResetError, BrokenPipeError), "connection dropped by the server"),
    ((ProtocolError,), "connection dropped mid-response"),
)


def describe_transport_error(error: HTTPError) -> str:
    """What went wrong below HTTP, in an operator's words (no URL: the caller adds it)."""
    cause = getattr(error, "reason", None) or error
    # A ProtocolError / MaxRetryError wraps the real cause; look through it.
    candidates = (cause, getattr(cause, "__cause__", None), getattr(cause, "__context__", None))
    for candidate in candidates:
        if isinstance(candidate, NewConnectionError) and not isinstance(
            candidate, NameResolutionError
        ):
            return _connect_failure(str(candidate))
        if isinstance(candidate, SSLError):
            return f"TLS failure ({candidate})"
        for kinds, name in _NAMES:
            if isinstance(candidate, kinds):
                return name
    return f"connection failed ({type(cause).__name__})"


def _connect_failure(text: str) -> str:
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "timed out" in lowered:
        return "timed out connecting (connect_timeout)"
    return f"could not connect ({_strip_object_address(text)})"


def _strip_object_address(text: str) -> str:
    # urllib3 prefixes "<urllib3.connection.HTTPConnection object at 0x...>: ".
    return text.split(">: ", 1)[-1]


def host_of(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"
