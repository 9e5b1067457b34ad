"""Phone numbers as E.164 with a default region (no database)."""

from __future__ import annotations

import pytest

from callhopper.domain.calls import CallId, DialRequest
from callhopper.domain.phones import (
    PhoneError,
    check_region,
    normalise_phone,
    phone_extension,
    zone_of_phone,
)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(602) 234-5678", "US", "+16022345678"),
        ("602.234.5678", "US", "+16022345678"),
        ("+44 20 7946 0958", "US", "+442079460958"),  # + keeps its country
        ("0044 20 7946 0958", "DE", "+442079460958"),  # so does an international prefix
        ("03-1234-5678", "JP", "+81312345678"),
    ],
)
def test_numbers_are_written_as_e164(raw: str, region: str, e164: str) -> None:
    assert normalise_phone(raw, region) == e164


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("abc", "'abc' is not a phone number (not a number)"),
        ("+999 123456", "'+999 123456' is not a phone number (unknown country code)"),
        ("12", "'12' is not a valid phone number for region US"),
        # The right length, but not a number of the plan (555-01xx is fictional).
        ("+1 555 0100", "'+1 555 0100' is not a valid phone number for region US"),
    ],
)
def test_a_value_that_is_no_number_is_refused_saying_why(raw: str, reason: str) -> None:
    with pytest.raises(PhoneError) as err:
        normalise_phone(raw, "US")
    assert str(err.value) == reason


def test_a_number_s_zone_is_known_only_when_its_prefix_names_one() -> None:
    assert zone_of_phone("+16022345678") == "America/Phoenix"
    assert zone_of_phone("+81312345678") == "Asia/Tokyo"
    assert zone_of_phone("+79161234567") is None  # Russian mobiles span eleven zones


def test_regions_are_iso_codes_in_any_case() -> None:
    assert check_region("us") == "US"
    with pytest.raises(ValueError, match="unknown phone region 'XX'"):
        check_region("XX")


@pytest.mark.parametrize(
    ("raw", "extension"),
    [
        ("+1 212 555 0100 ext. 12", "12"),
        ("(212) 555-0100 x12", "12"),
        ("212-555-0100 #12", "12"),
        ("+1 212 555 0100;ext=12", "12"),
        ("212 555 0100 extension 7", "7"),
        ("(212) 555-0100", None),
        ("+44 20 7946 0958", None),
        ("", None),
        (None, None),
        ("not a phone", None),
    ],
)
def test_an_extension_written_with_a_number_is_read(raw: str | None, extension: str | None) -> None:
    assert phone_extension(raw, "US") == extension
    if extension is not None:
        assert raw is not None
        assert normalise_phone(raw, "US") == "+12125550100"  # the number, without it


def test_a_dial_request_carries_keypad_digits_only() -> None:
    request = DialRequest(CallId("c1"), "+12125550100", "+14155550100", extension="12")
    assert request.extension == "12"
    with pytest.raises(ValueError, match="DTMF"):
        DialRequest(CallId("c2"), "+12125550100", "+14155550100", extension="12a")
