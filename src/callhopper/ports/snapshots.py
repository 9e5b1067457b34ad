"""The snapshot store: a campaign's view of its list's records (owners, ranks, states)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from callhopper.domain.campaign_values import Campaign


class SnapshotStore(Protocol):
    def take(self, campaign: Campaign, *, now: datetime) -> tuple[str, ...]:
        """Take the owner and queue snapshots and rebuild the campaign's view of every
        record (a first start or a recycle): records are resolved and ranked anew,
        non-final ones start the pass again, leases stay with agents who still own the
        record. Returns the time zones of the campaign's contacts."""
        ...

    def absorb_import(self, list_id: int, import_id: int, *, now: datetime) -> None:
        """Records appended to a list join every campaign on it that has started, after
        its records, resolved against its queue snapshot (no recycle)."""
        ...

    def absorb_edit(self, record_id: int, *, now: datetime) -> None:
        """A record a started campaign could not deliver (its owner value named nobody)
        is resolved again at once after an edit, as an append would."""
        ...

    def follow_record_zone(self, record_id: int, tz: str | None) -> None:
        """The campaigns' copies of an edited record's time zone follow it, and so do the
        zones of the campaigns it is in."""
        ...

    def follow_list_zones(self, list_id: int) -> None:
        """The campaigns' copies of time zones follow the records an import updated, and
        the list's campaigns their zones."""
        ...
