"""The lead owner store (:class:`callhopper.ports.owners.LeadOwnerStore`): owners of leads,
changed one at a time or through an owner plan (:mod:`callhopper.store.owner_plan`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.orm import Session

from callhopper.domain.actors import Actor
from callhopper.domain.lead_owners import (
    OWNER_CHANGED,
    EndedLease,
    LeadOwner,
    OwnerCandidate,
    PlannedOwner,
    StalenessRule,
)
from callhopper.domain.records import RecordStatus
from callhopper.domain.rights import Right
from callhopper.ports.owners import LeadSelection, Target
from callhopper.store import callbacks, deliveries, dispensing
from callhopper.store.models import Campaign, CampaignRecord, HopperEntry, Record, User
from callhopper.store.owner_plan import (
    CHANGED,
    PLAN,
    apply_plan,
    create_plan,
    drop_plan,
    fill_plan,
    per_agent,
    plan_counts,
    plan_sample,
)
from callhopper.store.record_filters import record_filter
from callhopper.store.users import actor_of

#: User ids looked up per query (well under SQLite's bound-parameter limit).
_USER_CHUNK = 1000


class SqlLeadOwnerStore:
    """Lead owners in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def candidates(self, user_ids: Sequence[str]) -> dict[str, OwnerCandidate]:
        found: dict[str, OwnerCandidate] = {}
        for start in range(0, len(user_ids), _USER_CHUNK):
            chunk = list(user_ids[start : start + _USER_CHUNK])
            for user in self.session.scalars(select(User).where(User.user_id.in_(chunk))):
                found[user.user_id] = OwnerCandidate(
                    id=user.id,
                    user_id=user.user_id,
                    active=user.active,
                    # Roles are few: ``actor_of`` finds each in the session after its first load.
                    works=actor_of(self.session, user).can(Right.AGENT_WORK),
                )
        return found

    def user_key(self, user_id: str) -> int | None:
        return self.session.scalar(select(User.id).where(User.user_id == user_id))

    def lock_owner(self, list_id: int, record_id: int) -> LeadOwner | None:
        found = self.session.execute(
            select(Record.owner_id, Record.updated_at)
            .where(Record.id == record_id, Record.list_id == list_id)
            .with_for_update(of=Record)
        ).one_or_none()
        if found is None:
            return None
        owner_id, updated_at = found
        owner = (
            self.session.scalar(select(User.user_id).where(User.id == owner_id))
            if owner_id is not None
            else None
        )
        return LeadOwner(record_id, list_id, owner_id, owner, updated_at)

    def set_owner(self, record_id: int, owner_id: int | None, *, now: datetime) -> None:
        self.session.execute(
            update(Record)
            .where(Record.id == record_id)
            .values(owner_id=owner_id, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        self.session.execute(
            delete(HopperEntry)
            .where(HopperEntry.record_id == record_id)
            .execution_options(synchronize_session=False)
        )
        callbacks.follow_owner(self.session, [record_id], now)

    def end_leases_of_non_owners(
        self, record_ids: Sequence[int], now: datetime
    ) -> list[EndedLease]:
        return end_leases_of_non_owners(self.session, list(record_ids), now)

    def plan(self, selection: LeadSelection, target: Target, *, lock: bool) -> tuple[int, int]:
        conditions: list[ColumnElement[bool]] = [Record.list_id == selection.list_id]
        if selection.lead_filter is not None:
            conditions.append(record_filter(selection.lead_filter))
        if selection.by_owner:
            conditions.append(
                Record.owner_id.is_(None)
                if selection.owner_id is None
                else Record.owner_id == selection.owner_id
            )
        create_plan(self.session, target if isinstance(target, list) else None)
        fill_plan(self.session, and_(*conditions), target, lock=lock)
        return plan_counts(self.session)

    def plan_stale(self, rule: StalenessRule, *, now: datetime) -> int:
        create_plan(self.session, None)
        fill_plan(self.session, _stale(rule, now), None, lock=True)
        return plan_counts(self.session)[1]

    def plan_per_agent(self, agent_ids: Sequence[int]) -> dict[str, int]:
        return per_agent(self.session, agent_ids)

    def plan_sample(self, limit: int) -> list[PlannedOwner]:
        return plan_sample(self.session, limit)

    def apply_plan(
        self, actor: Actor, *, reason: str, now: datetime, end_leases: bool
    ) -> list[EndedLease]:
        apply_plan(self.session, actor, reason=reason, now=now)
        callbacks.follow_owner(self.session, select(PLAN.c.record_id).where(CHANGED), now)
        if not end_leases:
            return []
        changed = select(PLAN.c.record_id).where(CHANGED)
        return end_leases_of_non_owners(self.session, changed, now)

    def drop_plan(self) -> None:
        drop_plan(self.session)


def end_leases_of_non_owners(
    session: Session, record_ids: Sequence[int] | object, now: datetime
) -> list[EndedLease]:
    """End the deliveries of these leads (ids, or a query of them), in lead-ownership
    campaigns, to agents who are no longer their owner, unless the agent already dialled
    during the delivery.

    A lead not yet dialled goes back (``ready``) and its history row is closed as
    :data:`OWNER_CHANGED`; the next hopper load stages it for the new owner. A lead already
    dialled stays with the agent, who is on or just off the call: Call refuses to dial it
    again (``owned_by_another_agent``) and Done records the call's wrap-up, which gives it
    back. A lead whose owner is cleared (the general pool) stays with its agent.
    """
    cr = CampaignRecord
    held = session.execute(
        select(cr.campaign_id, cr.record_id, cr.lease_agent_id)
        .join(Campaign, Campaign.id == cr.campaign_id)
        .join(Record, Record.id == cr.record_id)
        .where(
            cr.record_id.in_(record_ids),  # type: ignore[arg-type]
            cr.status == RecordStatus.LEASED,
            Campaign.enforce_lead_ownership.is_(True),
            Record.owner_id.is_not(None),
            cr.lease_agent_id != Record.owner_id,
            or_(cr.called_at.is_(None), cr.called_at < cr.leased_at),
        )
        .order_by(cr.campaign_id, cr.record_id)
        .with_for_update(of=cr)
    ).all()
    ended = []
    for campaign_id, record_id, agent_id in held:
        if agent_id is None:  # a leased row always has its agent
            continue
        dispensing.release(
            session,
            campaign_id,
            record_id,
            agent_id,
            status=RecordStatus.READY,
            accept_by=None,
            reserved_for=None,  # a personal callback goes to the owner
        )
        deliveries.close_assignment(session, campaign_id, record_id, now=now, outcome=OWNER_CHANGED)
        ended.append(EndedLease(agent_id, int(campaign_id), int(record_id)))
    return ended


def _stale(rule: StalenessRule, now: datetime) -> ColumnElement[bool]:
    """Owned leads the rule releases: owned, in scope, and matching any condition."""
    spec = rule.spec
    conditions: list[ColumnElement[bool]] = []
    if spec.statuses:
        conditions.append(Record.last_code.in_(list(spec.statuses)))
    if spec.not_called_days is not None:
        cutoff = now - timedelta(days=spec.not_called_days)
        conditions.append(
            or_(
                Record.last_called_at < cutoff,
                and_(Record.last_called_at.is_(None), Record.created_at < cutoff),
            )
        )
    if spec.owner_deactivated:
        conditions.append(Record.owner_id.in_(select(User.id).where(User.active.is_(False))))
    scope: list[ColumnElement[bool]] = [Record.owner_id.is_not(None), or_(*conditions)]
    if spec.list_id is not None:
        scope.append(Record.list_id == spec.list_id)
    return and_(*scope)
