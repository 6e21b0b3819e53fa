"""The secret never reaches a log line, not even inside a traceback, whatever its JSON type."""

from __future__ import annotations

import io
import logging

from singer_fanout.redaction import Redactor, protect, redactor

SECRET = "tok_live_abcdef123456"


def test_message_args_and_traceback_are_masked_for_any_handler():
    protect({"api_token": SECRET}, {"properties": {"api_token": {"secret": True}}})
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # added after protect(): masked all the same
    handler.setFormatter(logging.Formatter("%(message)s"))
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
    assert redactor().active


def test_a_credential_of_the_wrong_type_is_masked_in_every_printed_form():
    masker = Redactor()
    wrong = {"token": "sk-nested-secret-99", "n": 1234567890123}
    masker.add_values([wrong, 98765432109])
    for printed in (repr(wrong), str(wrong), "value 98765432109 is not of type 'string'"):
        assert "sk-nested" not in masker.redact(printed)
        assert "1234567890123" not in masker.redact(printed)
        assert "98765432109" not in masker.redact(printed)


def test_short_values_are_not_secrets():
    masker = Redactor()
    masker.add_values(["abc", True, None, 12])
    assert not masker.active
    assert masker.redact_json({"a": "abc"}) == {"a": "abc"}


def test_json_values_are_masked_deeply():
    masker = Redactor()
    masker.add(SECRET)
    state = {"bookmarks": {"s": {"partitions": [{"context": {"id": f"x{SECRET}y"}}]}}}
    assert masker.redact_json(state) == {
        "bookmarks": {"s": {"partitions": [{"context": {"id": "x****y"}}]}}}
