"""Vendor-neutral mechanics shared by the taps.

Fan-out of child partitions over a bounded worker pool, failure isolation per partition,
retries and client-side rate limiting, linear-cost partition state, and the run summary.
Nothing here names a vendor: each tap declares its own URLs, auth, pagination and error
rules and hands them to these pieces.
"""

from tapkit.error_rules import Action, ErrorRules
from tapkit.errors import (
    ConfigurationProblem,
    CredentialRejected,
    CursorExpired,
    PartitionError,
)
from tapkit.http_client import HttpClient, RetrySettings
from tapkit.ratelimit import RateLimitInfo
from tapkit.stream import PartitionedStream
from tapkit.tap import FanOutTap

__all__ = [
    "Action",
    "ConfigurationProblem",
    "CredentialRejected",
    "CursorExpired",
    "ErrorRules",
    "FanOutTap",
    "HttpClient",
    "PartitionError",
    "PartitionedStream",
    "RateLimitInfo",
    "RetrySettings",
]
