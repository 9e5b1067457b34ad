"""Campaign ownership of records on a shared contact list (SPEC §6): the pure rules.

When several campaigns dial one list, the first campaign that makes a valid
attempt on a record (a wrap-up code that ``counts_as_attempt``) owns it for
the list's ownership duration, or without expiry; no other campaign may dial
it until the ownership expires or is released.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: An ownership close to expiry (SPEC §6): within this share of the duration …
RENEWAL_SHARE = 0.10
#: … or this long, whichever is less.
RENEWAL_CAP = timedelta(hours=1)


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
                "campaign ownership needs a duration (days and/or hours) or no_expiration"
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
