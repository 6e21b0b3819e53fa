"""The secret never reaches a log line, not even inside a traceback."""

from __future__ import annotations

import io
import logging

from singer_fanout.redaction import SecretRedactor

SECRET = "tok_live_abcdef123456"


def test_message_args_and_traceback_are_masked():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretRedactor([SECRET]))
    log = logging.getLogger("test.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("header was Bearer %s", SECRET)
        try:
            raise ValueError(f"bad token {SECRET}")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    output = stream.getvalue()
    assert SECRET not in output
    assert "Bearer ****" in output
    assert "bad token ****" in output
