"""Keep secrets out of every log line, traceback included.

Error messages in the kit never format a secret, but a third-party library might (a URL
with a token, a header dump in a debug line). This filter is the second line of defence.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "****"
# Strings this short would mask ordinary words; a real credential is longer.
MIN_SECRET_LENGTH = 6


class SecretRedactor(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH},
                              key=len, reverse=True)

    def add(self, secret: str) -> None:
        """Mask a secret obtained at run time (an access token) from now on."""
        if secret and len(secret) >= MIN_SECRET_LENGTH and secret not in self.secrets:
            # A new list, longest first, swapped in whole: threads reading it never see
            # a half-updated one.
            self.secrets = sorted([*self.secrets, secret], key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def install(secrets: Iterable[str]) -> SecretRedactor:
    """Attach a redactor to every handler that exists now (root and named loggers)."""
    redactor = SecretRedactor(secrets)
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [
        logger for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            handler.addFilter(redactor)
    return redactor
