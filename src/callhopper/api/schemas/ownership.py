"""Campaign ownership of the records of a shared list: the ownership tab, releases and
tracking."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from callhopper.api.ids import IntId
from callhopper.api.schemas.base import Body, Changes, Reason
from callhopper.domain.campaign_ownership import OwnershipSettings


class OwnerCountPublic(BaseModel):
    campaign_id: int
    campaign_name: str
    records: int


class OwnershipTabPublic(BaseModel):
    list_id: int
    settings: OwnershipSettings
    campaigns: list[OwnerCountPublic] = Field(description="Campaigns owning records now.")
    total: int


class OwnershipSettingsChange(Changes):
    """The fields of the configuration to change; the others keep their stored values (so
    ``{"enabled": false}`` keeps the duration, and ``{"enabled": true}`` turns it on again
    with the stored one)."""

    enabled: bool | None = None
    days: int | None = Field(None, ge=0, le=3650)
    hours: int | None = Field(None, ge=0, le=23 * 3650)
    no_expiration: bool | None = None


class ReleaseIn(Body):
    campaign_ids: list[IntId] | None = Field(None, description="Release these campaigns' records …")
    all: bool = Field(False, description="… or every campaign's.")
    reason: Reason = Field("", description="Why (the audit's reason; default: who released).")


class ReleasePublic(BaseModel):
    released: dict[int, int] = Field(description="campaign id → records released")
    total: int


class OwnershipTrackingPublic(BaseModel):
    list_id: int
    list_name: str
    campaign_id: int
    campaign_name: str
    owned: int
    expiring_24h: int = Field(description="Owned now, ownership ending in the next 24 hours.")
    released_24h: int = Field(description="Released or expired in the last 24 hours.")


class CampaignOwnerPublic(BaseModel):
    campaign_id: int
    campaign_name: str
    owned_at: datetime
    expires_at: datetime | None
