"""The callbacks port: callbacks agents schedule on the records delivered to them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from callhopper.domain.callbacks import CallbackPlan, CampaignCallback, ScheduledCallback
from callhopper.domain.dispensing import CallbackView
from callhopper.domain.records import CallbackStatus


class Callbacks(Protocol):
    """A record has at most one pending callback per campaign (scheduled or delivered)."""

    def pending(self, campaign_id: int, record_id: int) -> CallbackView | None:
        """The record's callback not done or cancelled yet, if any."""
        ...

    def schedule(
        self,
        campaign_id: int,
        record_id: int,
        *,
        created_by: int,
        plan: CallbackPlan,
        number: str | None,
        note: str,
        now: datetime,
    ) -> ScheduledCallback:
        """Schedule the record's callback, or change the one scheduled. A callback being
        delivered now is over (done): the new one stands after Done."""
        ...

    def cancel(self, campaign_id: int, record_id: int, now: datetime) -> bool:
        """Cancel the pending callback; whether there was one."""
        ...

    def mark(self, campaign_id: int, record_id: int, status: CallbackStatus, now: datetime) -> None:
        """The pending callback is now ``status``."""
        ...

    def unmark_delivered(self, campaign_id: int, record_id: int, now: datetime) -> None:
        """A delivered callback the agent did not take (rejected, timed out) is scheduled
        again."""
        ...

    def report(self, campaign_id: int, *, due_at: datetime | None) -> list[CampaignCallback]:
        """The campaign's open callbacks by due time; with ``due_at``, only those due by then
        whose record waits for them (no agent has taken them yet)."""
        ...
