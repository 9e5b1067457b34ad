"""The outcomes port: what an agent's call or wrap-up sets off beyond the lease (do-not-
call lists, campaign ownership, workflow rules)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from callhopper.domain.actors import Actor
from callhopper.domain.dispensing import CampaignContext, RecordOwner


class Outcomes(Protocol):
    """The other areas' rules a dispensing transaction applies, in that transaction."""

    def dnc_numbers(self, campaign_id: int, numbers: Sequence[str]) -> set[str]:
        """The numbers (E.164) on any do-not-call list the campaign checks."""
        ...

    def add_to_dnc(
        self,
        actor: Actor,
        campaign_id: int,
        numbers: Sequence[str],
        source: str,
        now: datetime,
    ) -> None:
        """Put numbers on the campaign's own do-not-call list (``source``: ``decline`` or
        ``wrapup``)."""
        ...

    def active_owner(self, record_id: int, now: datetime) -> RecordOwner | None:
        """The campaign that owns the record now (campaign ownership), if any."""
        ...

    def after_attempt(
        self,
        actor: Actor,
        ctx: CampaignContext,
        record_id: int,
        *,
        valid: bool,
        code: str,
        now: datetime,
    ) -> None:
        """Campaign ownership after a wrap-up: a valid attempt claims an unowned record
        for the campaign; a call that could not be completed renews the campaign's
        ownership when it is close to expiry."""
        ...

    def fire_rules(
        self,
        actor: Actor,
        *,
        campaign_id: int,
        campaign_name: str,
        record_id: int,
        code: str,
        agent_id: int,
        owner_action: str | None,
        now: datetime,
    ) -> bool:
        """Run the enabled workflow rules matching this wrap-up; whether they queued a
        webhook."""
        ...
