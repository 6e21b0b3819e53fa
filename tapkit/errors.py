"""The exceptions the kit raises, each carrying enough context for an operator to act."""

from __future__ import annotations


class ConfigurationProblem(Exception):
    """A setting is missing or invalid. Raised before any request is made.

    The message always names the setting, never its value when the setting is secret.
    """

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        super().__init__(f"setting '{setting}': {problem}")


class CredentialRejected(Exception):
    """The vendor rejected the credential: every further request would fail too."""

    def __init__(self, setting: str, status: int, vendor_message: str) -> None:
        self.setting = setting
        self.status = status
        super().__init__(
            f"the vendor rejected the credential in setting '{setting}' "
            f"(HTTP {status}: {vendor_message}); check the value and its permissions"
        )


class PartitionError(Exception):
    """A request for one partition failed for good (after retries, or not retryable)."""

    def __init__(self, what: str, detail: str, *, status: int | None = None) -> None:
        self.what = what
        self.detail = detail
        self.status = status
        super().__init__(f"{what}: {detail}")


class RetryableError(Exception):
    """Internal signal: this attempt failed in a way that a later attempt may not."""

    def __init__(self, detail: str, *, wait_s: float | None = None, cause: str = "") -> None:
        self.detail = detail
        self.wait_s = wait_s
        # A short, bounded name for what went wrong ("HTTP 503", "timeout"): retries are
        # counted by it in progress lines and the summary.
        self.cause = cause or detail
        super().__init__(detail)


class CursorExpired(Exception):
    """A listing's cursor is no longer valid: the caller restarts that listing."""


class RunInterrupted(Exception):
    """SIGTERM or SIGINT arrived: stop scheduling, write state, exit non-zero."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by signal {signum}")
