"""The exceptions the kit raises, each carrying enough context for an operator to act.

Every message is masked as it is built: a vendor's error text may echo the credential.
"""

from __future__ import annotations

from singer_fanout.redaction import redact


class ConfigurationProblem(Exception):
    """A setting is missing or invalid. Raised before any request is made.

    The message always names the setting, never its value when the setting is secret.
    """

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        super().__init__(redact(f"setting '{setting}': {problem}"))


class CredentialRejected(Exception):
    """The vendor rejected the credential: every further request would fail too.

    Either on the run's first request, or later when the run's first successful request,
    sent again, was refused as well (the credential was revoked or expired mid-run).
    """

    def __init__(
        self, setting: str, status: int, vendor_message: str, *, mid_run: bool = False
    ) -> None:
        self.setting = setting
        self.status = status
        if mid_run:
            text = (f"the vendor stopped accepting the credential in setting '{setting}' "
                    f"during the run (HTTP {status}: {vendor_message}); asked again (the "
                    "run's first request, or a new token), it was refused too: it was revoked "
                    "or has expired")
        else:
            text = (f"the vendor rejected the credential in setting '{setting}' "
                    f"(HTTP {status}: {vendor_message}); check the value and its permissions")
        super().__init__(redact(text))


class PartitionError(Exception):
    """A request for one partition failed for good (after retries, or not retryable)."""

    def __init__(self, what: str, detail: str, *, status: int | None = None) -> None:
        self.what = redact(what)
        self.detail = redact(detail)
        self.status = status
        super().__init__(f"{self.what}: {self.detail}")


class PermissionDenied(PartitionError):
    """A 401/403 on one partition while the credential still works for the run's other
    requests (checked by sending the run's first successful request again): the credential
    lacks access to this account or service. That partition fails; the run goes on."""

    def __init__(self, what: str, detail: str, *, status: int, setting: str) -> None:
        super().__init__(
            what, f"permission denied: {detail}; the credential in setting '{setting}' still "
            "works for other requests (checked), so it lacks access to this one",
            status=status,
        )


class RetryableError(Exception):
    """Internal signal: this attempt failed in a way that a later attempt may not."""

    def __init__(self, detail: str, *, wait_s: float | None = None, cause: str = "") -> None:
        self.detail = redact(detail)
        self.wait_s = wait_s
        # The server provably did not act on the request (never connected, or 429/503):
        # even a request that must not be applied twice may be sent again.
        self.not_processed = False
        # A short, bounded name for what went wrong ("HTTP 503", "timeout"): retries are
        # counted by it in progress lines and the summary.
        self.cause = redact(cause) if cause else self.detail
        super().__init__(self.detail)


class TransportFailure(RetryableError):
    """Internal signal: no HTTP answer at all (refused, DNS, timeout, dropped connection)."""


class CursorExpired(Exception):
    """A listing's cursor is no longer valid: the caller restarts that listing."""


class RunInterrupted(Exception):
    """SIGTERM or SIGINT arrived: stop scheduling, write state, exit non-zero."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by signal {signum}")
