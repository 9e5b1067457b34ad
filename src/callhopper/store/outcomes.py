"""The SQL implementation of :class:`callhopper.ports.outcomes.Outcomes`: the rules of
other areas (do-not-call lists, campaign ownership, workflow rules) that a dispensing
transaction applies, each through its own store module."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from callhopper.domain.actors import Actor
from callhopper.domain.dispensing import CampaignContext, RecordOwner
from callhopper.store import dnc, ownership, workflows


class SqlOutcomes:
    """Other areas' rules in one session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def dnc_numbers(self, campaign_id: int, numbers: Sequence[str]) -> set[str]:
        return dnc.dnc_numbers_for_campaign(self.session, campaign_id, numbers)

    def add_to_dnc(
        self,
        actor: Actor,
        campaign_id: int,
        numbers: Sequence[str],
        source: str,
        now: datetime,
    ) -> None:
        dnc.add_to_campaign_list(self.session, actor, campaign_id, numbers, source, now)

    def active_owner(self, record_id: int, now: datetime) -> RecordOwner | None:
        owner = ownership.active_owner(self.session, record_id, now)
        return RecordOwner(owner.campaign_id, owner.expires_at) if owner is not None else None

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
        ownership.after_attempt(
            self.session,
            actor,
            ctx,
            ctx.ownership,
            record_id,
            valid=valid,
            code=code,
            now=now,
        )

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
        fired = workflows.fire(
            self.session,
            actor,
            campaign_id=campaign_id,
            campaign_name=campaign_name,
            record_id=record_id,
            code=code,
            agent_id=agent_id,
            agent_user_id=actor.user_id,
            owner_action=owner_action,
            now=now,
        )
        return any(action.webhook_id for action in fired)
