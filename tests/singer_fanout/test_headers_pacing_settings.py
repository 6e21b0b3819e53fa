"""Header parsing, the published-rate pacer and declared vendor settings: pure units."""

from __future__ import annotations

from decimal import Decimal

import pytest

from singer_fanout.answer import Answer
from singer_fanout.errors import ConfigurationProblem
from singer_fanout.links import link_relations, retry_after_s, same_origin
from singer_fanout.pacing import BURST_SHARE, RATE_SHARE, Pacer, PublishedRate
from singer_fanout.settings import VendorDefaults, settings_schema
from singer_fanout.vendor_settings import VendorSetting

BASE = "https://api.example.com"


def test_link_relations_resolve_every_rel() -> None:
    header = ('<https://api.example.com/v3/items?page=2>; rel="next", '
              '</v3/items?page=9>; rel="last", <https://api.example.com/v3/items>; rel=first')
    assert link_relations(header, BASE) == {
        "next": "https://api.example.com/v3/items?page=2",
        "last": "https://api.example.com/v3/items?page=9",
        "first": "https://api.example.com/v3/items",
    }
    assert link_relations(None, BASE) == {}
    assert link_relations("garbage", BASE) == {}


@pytest.mark.parametrize(
    ("url", "same"),
    [
        ("https://api.example.com/x", True),
        ("https://API.example.com:443/x", True),
        ("http://api.example.com/x", False),
        ("https://api.example.com:8443/x", False),
        ("https://api.example.com.attacker.net/x", False),
        ("https://attacker.net/?https://api.example.com", False),
    ],
)
def test_same_origin(url, same) -> None:
    assert same_origin(url, BASE) is same


def test_retry_after_as_seconds_or_http_date() -> None:
    now = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT
    assert retry_after_s("7", now=lambda: now) == 7.0
    assert retry_after_s("Tue, 14 Nov 2023 22:13:23 GMT", now=lambda: now) == 3.0
    assert retry_after_s("Tue, 14 Nov 2023 22:13:00 GMT", now=lambda: now) == 0.0  # past
    assert retry_after_s("soon", now=lambda: now) is None
    assert retry_after_s(None) is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_pacer_allows_a_burst_then_the_published_rate_with_a_margin() -> None:
    clock = FakeClock()
    pacer = Pacer(PublishedRate(20, 1.0), clock=clock, sleep=clock.sleep)
    burst = int(20 * BURST_SHARE)
    for _ in range(burst):
        pacer.acquire()
    assert clock.now == 100.0
    for _ in range(180):
        pacer.acquire()
    rate = 180 / (clock.now - 100.0)
    assert rate == pytest.approx(20 * RATE_SHARE)


SETTINGS = (
    VendorSetting("client_id", "string", "OAuth client id.", required=True),
    VendorSetting("poll_interval_seconds", "number", "Poll interval.", default=2, minimum=0.1),
    VendorSetting("max_jobs", "integer", "Jobs at once.", default=50, minimum=1, maximum=500),
)


def test_declared_settings_accept_decimals_and_fill_defaults() -> None:
    values = {s.name: s.read({"client_id": "abc", "poll_interval_seconds": Decimal("0.5"),
                              "max_jobs": Decimal("20")}) for s in SETTINGS}
    assert values == {"client_id": "abc", "poll_interval_seconds": 0.5, "max_jobs": 20}
    assert isinstance(values["max_jobs"], int)
    assert SETTINGS[1].read({}) == 2
    assert SETTINGS[0].read({"sandbox": True}) is None


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "setting 'client_id': is required"),
        ({"client_id": 5}, "setting 'client_id': 5 is not a string"),
        ({"client_id": "a", "max_jobs": Decimal("2.5")}, "'max_jobs': Decimal('2.5') is not a "
                                                          "whole number"),
        ({"client_id": "a", "max_jobs": 501}, "'max_jobs': 501 is more than 500"),
        ({"client_id": "a", "poll_interval_seconds": "1"}, "'1' is not a number"),
        ({"client_id": "a", "poll_interval_seconds": 0}, "0 is less than 0.1"),
        ({"client_id": "a", "max_jobs": True}, "True is not a whole number"),
    ],
)
def test_declared_settings_name_the_problem(config, message) -> None:
    pattern = message.replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(ConfigurationProblem, match=pattern):
        [setting.read(config) for setting in SETTINGS]


def test_a_secret_setting_never_shows_its_value() -> None:
    secret = VendorSetting("signing_key", "integer", "A key.", secret=True)
    with pytest.raises(ConfigurationProblem) as raised:
        secret.read({"signing_key": "hunter2-value"})
    assert "hunter2" not in str(raised.value)


def test_declared_settings_are_in_the_schema() -> None:
    vendor = VendorDefaults(credential_setting="client_secret", credential_help="Secret.",
                            production_url=BASE, lookback_days=2, retention_days=365,
                            page_size=50, max_page_size=100, settings=SETTINGS)
    properties = settings_schema(vendor).to_dict()["properties"]
    assert properties["client_id"]["type"] == ["string", "null"]
    assert properties["max_jobs"]["default"] == 50
    assert properties["client_secret"]["secret"] is True


def test_csv_rows_refuse_ragged_or_empty_bodies() -> None:
    def rows(body: bytes) -> list[dict[str, str]]:
        return Answer(200, {}, body).csv_rows()

    assert rows(b"\xef\xbb\xbfa,b\n1,2\n") == [{"a": "1", "b": "2"}]
    with pytest.raises(ValueError, match="line 3"):
        rows(b"a,b\n1,2\n3\n")
    with pytest.raises(ValueError, match="no header row"):
        rows(b"")
