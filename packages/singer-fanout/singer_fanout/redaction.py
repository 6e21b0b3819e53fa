"""Keep secrets out of every byte the tap writes: one redaction, applied on every path.

The kit's own messages never format a secret, but the world echoes them: a vendor or a proxy
repeating the credential in an error body, a header or a URL; a library printing a request;
a credential of the wrong JSON type quoted by the config validator. So every way out of the
process passes through the one `Redactor`:

- log records (messages and tracebacks), through a log-record factory, whatever handler or
  formatter prints them;
- exception messages, masked where the kit builds them (`singer_fanout.errors`);
- the run summary (its log lines and the `summary_path` JSON), and STATE / SCHEMA / RECORD
  lines on stdout (`singer_fanout.writer`);
- config-validation errors (`FanOutTap._validate_config`).

The redactor is process-wide because the secrets are: the settings it learns them from are
read once, before anything is written.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "****"
# Strings this short would mask ordinary words; a real credential is longer.
MIN_SECRET_LENGTH = 6


class Redactor(logging.Filter):
    """Masks every registered secret in text. Thread-safe; cheap when no secret occurs.

    Also a logging filter, for a logger or handler of its own (tests, a library's logger).
    """

    def __init__(self, secrets: Iterable[Any] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.add_values(secrets)

    def add_values(self, values: Iterable[Any]) -> None:
        """Register secrets: strings, or values of any JSON type (a credential of the wrong
        type is still a credential: its strings and its printed forms are masked)."""
        forms: set[str] = set()
        for value in values:
            forms.update(_printed_forms(value))
        with self._lock:
            merged = set(self._secrets) | {f for f in forms if len(f) >= MIN_SECRET_LENGTH}
            # Longest first: a secret containing another is masked whole. A new tuple,
            # swapped in whole: threads reading it never see a half-updated one.
            self._secrets = tuple(sorted(merged, key=len, reverse=True))

    def add(self, secret: str) -> None:
        """Mask a secret obtained at run time (an access token) from now on."""
        self.add_values([secret])

    @property
    def active(self) -> bool:
        return bool(self._secrets)

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            _mask_record(record, self)
        return True

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def redact_json(self, value: Any) -> Any:
        """`value` (JSON-like) with every string masked; the same object when nothing was."""
        if not self._secrets:
            return value
        text = json.dumps(value, default=str)
        redacted = self.redact(text)
        return value if redacted == text else json.loads(redacted)


def _printed_forms(value: Any) -> set[str]:
    if value is None or isinstance(value, bool):
        return set()
    if isinstance(value, str):
        return {value}
    forms = {str(value), repr(value)}
    if isinstance(value, Mapping):
        for key, item in value.items():
            forms |= _printed_forms(key) | _printed_forms(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            forms |= _printed_forms(item)
    return forms


@functools.cache
def redactor() -> Redactor:
    """The process's one redactor (made on first use, never at import)."""
    return Redactor()


def redact(text: str) -> str:
    return redactor().redact(text)


def install(secrets: Iterable[Any]) -> Redactor:
    """Register `secrets` with the process's redactor and mask log records from now on."""
    redactor().add_values(secrets)
    _install_record_factory()
    return redactor()


# The name this class had before it became the one process-wide redactor.
SecretRedactor = Redactor


def secret_settings(config_schema: Mapping[str, Any]) -> list[str]:
    """Names of the settings the JSON schema marks secret (singer-sdk's `secret=True`)."""
    properties = config_schema.get("properties", {})
    return [name for name, spec in properties.items()
            if isinstance(spec, Mapping) and (spec.get("secret") or spec.get("writeOnly"))]


def protect(config: Mapping[str, Any], config_schema: Mapping[str, Any]) -> None:
    """Register the secret settings' values and mask them in every log record from now on."""
    redactor().add_values(
        config[name] for name in secret_settings(config_schema) if name in config)
    _install_record_factory()


@functools.cache
def _install_record_factory() -> None:
    """Mask secrets as each log record is made, so no handler or formatter, present or
    added later (structured logging, a logging config file), can print one."""
    previous = logging.getLogRecordFactory()

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        masker = redactor()
        if masker.active:
            _mask_record(record, masker)
        return record

    logging.setLogRecordFactory(make_record)


def _mask_record(record: logging.LogRecord, masker: Redactor) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed format string: leave it to the handler's error path
        return
    masked = masker.redact(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and record.exc_info[0] is not None:
        trace = logging.Formatter().formatException(record.exc_info)
        masked_trace = masker.redact(trace)
        if masked_trace != trace:
            # Formatters that read the exception object itself would print it unmasked.
            record.exc_info, record.exc_text = None, masked_trace
