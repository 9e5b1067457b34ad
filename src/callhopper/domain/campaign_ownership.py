"""Campaign ownership of records on a shared contact list: the pure rules.

When several campaigns dial one list, the first campaign that makes a valid
attempt on a record (a wrap-up code that ``counts_as_attempt``) owns it for
the list's ownership duration, or without expiry; no other campaign may dial
it until the ownership expires or is released.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: An ownership is close to expiry within this share of its duration …
RENEWAL_SHARE = 0.10
#: … or this long, whichever is less.
RENEWAL_CAP = timedelta(hours=1)


class ReleaseReason(StrEnum):
    """How an ownership ended (kept for the tracking report)."""

    #: Someone with the ownership-control right released the campaign's records.
    RELEASED = "released"
    #: Its duration ran out (or a shorter new duration ended it at once).
    EXPIRED = "expired"


class OwnershipAction(StrEnum):
    """The audit actions of campaign ownership."""

    CLAIM = "ownership.claim"
    #: An ownership found past its end, closed when next touched.
    EXPIRE = "ownership.expire"
    RENEW = "ownership.renew"
    #: A new duration re-dated a current ownership.
    REDATE = "ownership.redate"
    RELEASE = "ownership.release"
    #: The list's ownership settings changed.
    SETTINGS = "contact_list.ownership_settings"


class OwnershipSettings(BaseModel):
    """The contact list's *Campaign Ownership* configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    days: int = Field(0, ge=0, le=3650)
    hours: int = Field(0, ge=0, le=23 * 3650)
    no_expiration: bool = False

    @model_validator(mode="after")
    def _check_duration(self) -> Self:
        if self.enabled and not self.no_expiration and self.days == 0 and self.hours == 0:
            raise ValueError(
                "campaign ownership needs a duration (days and/or hours) or no_expiration, "
                "and none is set"
            )
        return self

    @property
    def duration(self) -> timedelta | None:
        """How long a campaign keeps a record; ``None`` for no expiration."""
        if self.no_expiration:
            return None
        return timedelta(days=self.days, hours=self.hours)

    def describe(self) -> str:
        if not self.enabled:
            return "off"
        if self.no_expiration:
            return "on, no expiration"
        return f"on, {self.days} day(s) {self.hours} hour(s)"


def expiry(owned_at: datetime, duration: timedelta | None) -> datetime | None:
    """When an ownership taken at ``owned_at`` ends (``None``: it does not)."""
    return None if duration is None else owned_at + duration


def is_active(now: datetime, expires_at: datetime | None) -> bool:
    return expires_at is None or expires_at > now


def renewal_due(now: datetime, expires_at: datetime | None, duration: timedelta | None) -> bool:
    """A call that could not be completed renews an ownership this close to its expiry."""
    if expires_at is None or duration is None or expires_at <= now:
        return False
    margin = min(duration * RENEWAL_SHARE, RENEWAL_CAP)
    return expires_at - now <= margin


@dataclass(frozen=True, slots=True)
class Redated:
    """A current ownership after the list's duration changed."""

    #: ``owned_at`` + the new duration (``None``: no expiration), even when already past.
    expires_at: datetime | None
    #: ``now`` when the new expiry is already past: the ownership ends at once.
    ended_at: datetime | None

    @property
    def ends_at(self) -> datetime | None:
        """When the ownership ends (``None``: it does not)."""
        return self.ended_at or self.expires_at


def redate(owned_at: datetime, duration: timedelta | None, now: datetime) -> Redated:
    """A new duration applies to every current ownership: it expires ``duration`` after it
    was taken, or ends now if that moment is past (from no expiration to 3 hours, a claim
    taken yesterday ends at once)."""
    expires_at = expiry(owned_at, duration)
    ended = expires_at is not None and expires_at <= now
    return Redated(expires_at, now if ended else None)
