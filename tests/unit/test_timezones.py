"""US states and postal codes to IANA zones."""

from __future__ import annotations

import zoneinfo

import pytest

from callhopper.domain import timezones
from callhopper.domain.timezones import TimezoneSourceKind, zone_from_source


@pytest.mark.parametrize(
    ("value", "zone"),
    [
        ("AZ", "America/Phoenix"),
        ("az", "America/Phoenix"),
        ("New  York", "America/New_York"),
        ("hawaii", "Pacific/Honolulu"),
        ("PR", "America/Puerto_Rico"),
        ("ZZ", None),
    ],
)
def test_states(value: str, zone: str | None) -> None:
    assert zone_from_source(TimezoneSourceKind.US_STATE, value) == zone


@pytest.mark.parametrize(
    ("value", "zone"),
    [
        ("85004", "America/Phoenix"),
        ("85004-1234", "America/Phoenix"),
        ("850041234", "America/Phoenix"),
        ("02108", "America/New_York"),
        ("2108", "America/New_York"),  # a spreadsheet ate the leading zero
        ("32501", "America/Chicago"),  # Pensacola, Florida panhandle
        ("33101", "America/New_York"),  # Miami
        ("79901", "America/Denver"),  # El Paso
        ("75201", "America/Chicago"),  # Dallas
        ("99501", "America/Anchorage"),
        ("00000", None),
        ("abcde", None),
        ("123", None),
    ],
)
def test_postal_codes(value: str, zone: str | None) -> None:
    assert zone_from_source(TimezoneSourceKind.POSTAL_CODE, value) == zone


def test_iana_values_must_exist() -> None:
    assert zone_from_source(TimezoneSourceKind.IANA, " Europe/Paris ") == "Europe/Paris"
    assert zone_from_source(TimezoneSourceKind.IANA, "Europe/Atlantis") is None


def test_every_mapped_zone_exists() -> None:
    zones = set(timezones.STATE_ZONES.values())
    zones |= {zone for _, _, zone in timezones._ZIP3_ZONE_EXCEPTIONS}
    for zone in zones:
        zoneinfo.ZoneInfo(zone)
    assert set(timezones.STATE_NAMES.values()) <= set(timezones.STATE_ZONES)
    assert {state for _, _, state in timezones._ZIP3_STATES} <= set(timezones.STATE_ZONES)
