"""Vendor-neutral mechanics shared by the taps.

Fan-out of child partitions over a bounded worker pool, failure isolation per partition,
retries and client-side rate limiting, linear-cost partition state, and the run summary.
Nothing here names a vendor: each tap declares its own URLs, auth, pagination and error
rules and hands them to these pieces.
"""

from singer_fanout.error_rules import Action, ErrorRules
from singer_fanout.errors import (
    ConfigurationProblem,
    CredentialRejected,
    CursorExpired,
    PartitionError,
)
from singer_fanout.http_client import HttpClient, RetrySettings
from singer_fanout.ratelimit import RateLimitInfo
from singer_fanout.stream import PartitionedStream
from singer_fanout.tap import FanOutTap

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
