"""Phone numbers: normalisation to E.164 with a default region (``phonenumbers``)."""

from __future__ import annotations

import re
from enum import StrEnum

import phonenumbers
from phonenumbers import timezone as pn_timezone


class PhoneType(StrEnum):
    CELL = "cell"
    HOME = "home"
    WORK = "work"
    OTHER = "other"


class PhoneError(ValueError):
    """A value that is not a valid phone number; the message says why."""


def normalise_phone(raw: str, default_region: str) -> str:
    """Return ``raw`` as E.164, or raise :class:`PhoneError` naming the problem.

    Numbers written with ``+`` (or ``00``/``011`` international prefixes) keep
    their country; others are read in ``default_region``. A number must be
    valid in its country's numbering plan, not merely the right length.
    """
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(f"{raw!r} is not a phone number ({_parse_reason(exc)})") from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(f"{raw!r} is not a valid phone number for region {default_region}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


#: A value made of digits and the usual separators only: no extension can be written in it.
_PLAIN_NUMBER = re.compile(r"[\d\s+().\-/]*")


def phone_extension(raw: str | None, default_region: str) -> str | None:
    """The extension written with a phone number (``ext. 12``, ``x12``, ``#12``,
    ``;ext=12``), or ``None``. E.164 has no room for one: it stays in the phone column's
    value as written, and is read from there."""
    if not raw or _PLAIN_NUMBER.fullmatch(raw):
        return None
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return None
    return str(number.extension) if number.extension else None


def zone_of_phone(e164: str) -> str | None:
    """The IANA zone of an E.164 number when its prefix names exactly one zone."""
    number = phonenumbers.parse(e164, None)
    zones = pn_timezone.time_zones_for_number(number)
    if len(zones) == 1 and zones[0] != pn_timezone.UNKNOWN_TIMEZONE:
        return str(zones[0])
    return None


def check_region(region: str) -> str:
    """Validate an ISO 3166 region code for phone parsing; returns it upper-cased."""
    upper = region.upper()
    if upper not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {region!r}")
    return upper


def _parse_reason(exc: phonenumbers.NumberParseException) -> str:
    reasons = {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "not a number",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }
    return reasons.get(exc.error_type, "unreadable")
