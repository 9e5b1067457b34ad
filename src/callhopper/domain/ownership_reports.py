"""What the campaign ownership tab and its tracking report show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class CampaignOwner:
    """The campaign that owns a record now."""

    campaign_id: int
    campaign_name: str
    owned_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class OwnerCount:
    """A campaign that owns records of a list now, with how many."""

    campaign_id: int
    campaign_name: str
    records: int


@dataclass(frozen=True)
class TrackingRow:
    """Per list and campaign: records owned now, expiring in the next 24 hours, and
    released (or expired) in the last 24 hours."""

    list_id: int
    list_name: str
    campaign_id: int
    campaign_name: str
    owned: int
    expiring_24h: int
    released_24h: int
