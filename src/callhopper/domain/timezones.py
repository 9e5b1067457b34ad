"""Time zone of a contact: from an IANA zone, a US state or a US postal code.

States map to their predominant zone. Postal codes map through their
three-digit prefix (ZIP3) to a state, and for states that span two zones the
ZIP3 ranges on the other side of the line are mapped to that zone.
"""

from __future__ import annotations

import re
import zoneinfo
from enum import StrEnum
from functools import lru_cache


class TimezoneSourceKind(StrEnum):
    IANA = "iana"
    US_STATE = "us_state"
    POSTAL_CODE = "postal_code"


STATE_ZONES: dict[str, str] = {
    "AL": "America/Chicago",
    "AK": "America/Anchorage",
    "AZ": "America/Phoenix",
    "AR": "America/Chicago",
    "CA": "America/Los_Angeles",
    "CO": "America/Denver",
    "CT": "America/New_York",
    "DE": "America/New_York",
    "DC": "America/New_York",
    "FL": "America/New_York",
    "GA": "America/New_York",
    "HI": "Pacific/Honolulu",
    "ID": "America/Boise",
    "IL": "America/Chicago",
    "IN": "America/Indiana/Indianapolis",
    "IA": "America/Chicago",
    "KS": "America/Chicago",
    "KY": "America/New_York",
    "LA": "America/Chicago",
    "ME": "America/New_York",
    "MD": "America/New_York",
    "MA": "America/New_York",
    "MI": "America/Detroit",
    "MN": "America/Chicago",
    "MS": "America/Chicago",
    "MO": "America/Chicago",
    "MT": "America/Denver",
    "NE": "America/Chicago",
    "NV": "America/Los_Angeles",
    "NH": "America/New_York",
    "NJ": "America/New_York",
    "NM": "America/Denver",
    "NY": "America/New_York",
    "NC": "America/New_York",
    "ND": "America/Chicago",
    "OH": "America/New_York",
    "OK": "America/Chicago",
    "OR": "America/Los_Angeles",
    "PA": "America/New_York",
    "RI": "America/New_York",
    "SC": "America/New_York",
    "SD": "America/Chicago",
    "TN": "America/Chicago",
    "TX": "America/Chicago",
    "UT": "America/Denver",
    "VT": "America/New_York",
    "VA": "America/New_York",
    "WA": "America/Los_Angeles",
    "WV": "America/New_York",
    "WI": "America/Chicago",
    "WY": "America/Denver",
    "PR": "America/Puerto_Rico",
    "VI": "America/St_Thomas",
    "GU": "Pacific/Guam",
    "AS": "Pacific/Pago_Pago",
    "MP": "Pacific/Saipan",
}

STATE_NAMES: dict[str, str] = {
    "ALABAMA": "AL", "ALASKA": "AK", "ARIZONA": "AZ", "ARKANSAS": "AR", "CALIFORNIA": "CA",
    "COLORADO": "CO", "CONNECTICUT": "CT", "DELAWARE": "DE", "DISTRICT OF COLUMBIA": "DC",
    "FLORIDA": "FL", "GEORGIA": "GA", "HAWAII": "HI", "IDAHO": "ID", "ILLINOIS": "IL",
    "INDIANA": "IN", "IOWA": "IA", "KANSAS": "KS", "KENTUCKY": "KY", "LOUISIANA": "LA",
    "MAINE": "ME", "MARYLAND": "MD", "MASSACHUSETTS": "MA", "MICHIGAN": "MI",
    "MINNESOTA": "MN", "MISSISSIPPI": "MS", "MISSOURI": "MO", "MONTANA": "MT",
    "NEBRASKA": "NE", "NEVADA": "NV", "NEW HAMPSHIRE": "NH", "NEW JERSEY": "NJ",
    "NEW MEXICO": "NM", "NEW YORK": "NY", "NORTH CAROLINA": "NC", "NORTH DAKOTA": "ND",
    "OHIO": "OH", "OKLAHOMA": "OK", "OREGON": "OR", "PENNSYLVANIA": "PA",
    "RHODE ISLAND": "RI", "SOUTH CAROLINA": "SC", "SOUTH DAKOTA": "SD", "TENNESSEE": "TN",
    "TEXAS": "TX", "UTAH": "UT", "VERMONT": "VT", "VIRGINIA": "VA", "WASHINGTON": "WA",
    "WEST VIRGINIA": "WV", "WISCONSIN": "WI", "WYOMING": "WY", "PUERTO RICO": "PR",
    "VIRGIN ISLANDS": "VI", "GUAM": "GU", "AMERICAN SAMOA": "AS",
    "NORTHERN MARIANA ISLANDS": "MP",
}  # fmt: skip

#: ZIP3 ranges (inclusive) → state, after USPS prefix assignments.
_ZIP3_STATES: list[tuple[int, int, str]] = [
    (5, 5, "NY"), (6, 7, "PR"), (8, 8, "VI"), (9, 9, "PR"), (10, 27, "MA"), (28, 29, "RI"),
    (30, 38, "NH"), (39, 49, "ME"), (50, 54, "VT"), (55, 55, "MA"), (56, 59, "VT"),
    (60, 69, "CT"), (70, 89, "NJ"), (100, 149, "NY"), (150, 196, "PA"), (197, 199, "DE"),
    (200, 200, "DC"), (201, 201, "VA"), (202, 205, "DC"), (206, 219, "MD"),
    (220, 246, "VA"), (247, 268, "WV"), (270, 289, "NC"), (290, 299, "SC"),
    (300, 319, "GA"), (320, 339, "FL"), (341, 349, "FL"), (350, 369, "AL"),
    (370, 385, "TN"), (386, 397, "MS"), (398, 399, "GA"), (400, 427, "KY"),
    (430, 459, "OH"), (460, 479, "IN"), (480, 499, "MI"), (500, 528, "IA"),
    (530, 549, "WI"), (550, 567, "MN"), (569, 569, "DC"), (570, 577, "SD"),
    (580, 588, "ND"), (590, 599, "MT"), (600, 629, "IL"), (630, 658, "MO"),
    (660, 679, "KS"), (680, 693, "NE"), (700, 715, "LA"), (716, 729, "AR"),
    (730, 732, "OK"), (733, 733, "TX"), (734, 749, "OK"), (750, 799, "TX"),
    (800, 816, "CO"), (820, 831, "WY"), (832, 838, "ID"), (840, 847, "UT"),
    (850, 865, "AZ"), (870, 884, "NM"), (885, 885, "TX"), (889, 898, "NV"),
    (900, 961, "CA"), (967, 968, "HI"), (969, 969, "GU"), (970, 979, "OR"),
    (980, 994, "WA"), (995, 999, "AK"),
]  # fmt: skip

#: ZIP3 ranges on the minority side of a state's zone line.
_ZIP3_ZONE_EXCEPTIONS: list[tuple[int, int, str]] = [
    (324, 325, "America/Chicago"),  # Florida panhandle
    (373, 379, "America/New_York"),  # East Tennessee
    (420, 427, "America/Chicago"),  # Western Kentucky
    (463, 464, "America/Chicago"),  # Northwest Indiana
    (476, 477, "America/Chicago"),  # Southwest Indiana (Evansville)
    (498, 499, "America/Menominee"),  # Michigan's western Upper Peninsula
    (577, 577, "America/Denver"),  # Western South Dakota
    (693, 693, "America/Denver"),  # Western Nebraska
    (798, 799, "America/Denver"),  # El Paso
    (885, 885, "America/Denver"),  # El Paso
    (838, 838, "America/Los_Angeles"),  # Idaho panhandle
    (979, 979, "America/Boise"),  # Eastern Oregon
]  # fmt: skip

_ZIP_RE = re.compile(r"^(\d{3,5})(?:-?\d{4})?$")


@lru_cache(maxsize=1)
def available_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_zone(name: str) -> bool:
    return name in available_zones()


def zone_of_state(value: str) -> str | None:
    """Zone of a US state or territory given as its code (``AZ``) or name (``Arizona``)."""
    key = " ".join(value.strip().upper().split())
    return STATE_ZONES.get(STATE_NAMES.get(key, key))


def zone_of_postal_code(value: str) -> str | None:
    """Zone of a US ZIP code (``85004``, ``85004-1234``; leading zeros may be missing)."""
    match = _ZIP_RE.match(value.strip())
    if match is None:
        return None
    digits = match.group(1)
    if len(digits) < 5:
        # Spreadsheets drop leading zeros: 2108 was 02108.
        if len(digits) == 3 or match.group(0) != digits:
            return None
        digits = digits.rjust(5, "0")
    return _zone_of_zip3(int(digits[:3]))


@lru_cache(maxsize=1000)
def _zone_of_zip3(zip3: int) -> str | None:
    for low, high, zone in _ZIP3_ZONE_EXCEPTIONS:
        if low <= zip3 <= high:
            return zone
    for low, high, state in _ZIP3_STATES:
        if low <= zip3 <= high:
            return STATE_ZONES[state]
    return None


def zone_from_source(kind: TimezoneSourceKind, value: str) -> str | None:
    """The zone a time-zone source column value names, or ``None`` if it names none."""
    if kind is TimezoneSourceKind.IANA:
        name = value.strip()
        return name if is_zone(name) else None
    if kind is TimezoneSourceKind.US_STATE:
        return zone_of_state(value)
    return zone_of_postal_code(value)
