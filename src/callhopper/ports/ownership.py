"""The campaign ownership store: which campaign owns which record of a shared list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from callhopper.domain.actors import Actor
from callhopper.domain.ownership_reports import CampaignOwner, OwnerCount, TrackingRow


class OwnershipStore(Protocol):
    def owner_of(self, record_id: int, now: datetime) -> CampaignOwner | None:
        """The campaign that owns the record now, if any."""
        ...

    def owners(self, list_id: int, now: datetime) -> list[OwnerCount]:
        """The campaigns that own records of the list now, with how many."""
        ...

    def redate(
        self, actor: Actor, list_id: int, duration: timedelta | None, *, now: datetime
    ) -> None:
        """Re-date every current ownership of the list to ``owned_at + duration`` (ending
        it when that is past), each audited."""
        ...

    def release(
        self,
        actor: Actor,
        list_id: int,
        campaign_ids: Sequence[int] | None,
        *,
        now: datetime,
        reason: str,
    ) -> dict[int, int]:
        """Release every record of the list owned by the campaigns (all when None), each
        audited; returns how many records each campaign lost."""
        ...

    def campaigns_on_list(self, list_id: int, campaign_ids: Sequence[int]) -> set[int]:
        """Those of the campaigns that use the list."""
        ...

    def tracking(self, now: datetime, list_id: int | None) -> list[TrackingRow]: ...
