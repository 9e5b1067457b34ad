"""Callbacks scheduled by agents, in SQL (the rules are :mod:`callhopper.domain.callbacks`).

A record has at most one pending callback per campaign (scheduled, or delivered now); a
claim that takes a record whose callback is due marks it delivered (:data:`MARK_DUE_DELIVERED`,
run by the claim's bookkeeping), and Done closes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, insert, select, update
from sqlalchemy.orm import Session

from callhopper.domain.callbacks import CallbackPlan, CampaignCallback, ScheduledCallback
from callhopper.domain.dispensing import CallbackView
from callhopper.domain.records import (
    OPEN_CALLBACK_STATUSES,
    CallbackKind,
    CallbackStatus,
    RecordStatus,
)
from callhopper.store.models import (
    AgentSession,
    Callback,
    Campaign,
    CampaignRecord,
    Record,
    User,
    table_of,
)
from callhopper.store.types import UTCDateTime

_CALLBACKS = table_of(Callback)
_OPEN = [status.value for status in OPEN_CALLBACK_STATUSES]
_SCHEDULED = CallbackStatus.SCHEDULED.value
_NOW = bindparam("now", type_=UTCDateTime())
_THE_RECORDS = (
    _CALLBACKS.c.campaign_id == bindparam("campaign"),
    _CALLBACKS.c.record_id == bindparam("record"),
)

_PENDING = select(
    _CALLBACKS.c.id,
    _CALLBACKS.c.kind,
    _CALLBACKS.c.status,
    _CALLBACKS.c.due_at,
    _CALLBACKS.c.number,
    _CALLBACKS.c.note,
    _CALLBACKS.c.agent_id,
).where(*_THE_RECORDS, _CALLBACKS.c.status.in_(_OPEN))
#: The pending callback is now ``status`` (parameters ``campaign``, ``record``, ``status``).
_MARK = (
    update(_CALLBACKS)
    .where(*_THE_RECORDS, _CALLBACKS.c.status.in_(_OPEN))
    .values(status=bindparam("new_status"), updated_at=_NOW)
)
_UNMARK_DELIVERED = (
    update(_CALLBACKS)
    .where(*_THE_RECORDS, _CALLBACKS.c.status == CallbackStatus.DELIVERED.value)
    .values(status=_SCHEDULED, updated_at=_NOW)
)
_NEW = (
    insert(_CALLBACKS)
    .values(
        campaign_id=bindparam("campaign"),
        record_id=bindparam("record"),
        created_by=bindparam("creator"),
        created_at=_NOW,
        status=_SCHEDULED,
        kind=bindparam("callback_kind"),
        agent_id=bindparam("target"),
        due_at=bindparam("due", type_=UTCDateTime()),
        number=bindparam("e164"),
        note=bindparam("text"),
        updated_at=_NOW,
    )
    .returning(_CALLBACKS.c.id)
)
_CHANGE = (
    update(_CALLBACKS)
    .where(_CALLBACKS.c.id == bindparam("callback"))
    .values(
        kind=bindparam("callback_kind"),
        agent_id=bindparam("target"),
        due_at=bindparam("due", type_=UTCDateTime()),
        number=bindparam("e164"),
        note=bindparam("text"),
        updated_at=_NOW,
    )
)
_USER_ID = select(User.user_id).where(User.id == bindparam("user"))

#: A claimed record's callback whose time had come is that callback's delivery.
MARK_DUE_DELIVERED = (
    update(_CALLBACKS)
    .where(
        *_THE_RECORDS,
        _CALLBACKS.c.status == _SCHEDULED,
        _CALLBACKS.c.due_at <= _NOW,
    )
    .values(status=CallbackStatus.DELIVERED.value, updated_at=_NOW)
)


class SqlCallbacks:
    """Callbacks in one session's transaction (:class:`callhopper.ports.callbacks.Callbacks`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def pending(self, campaign_id: int, record_id: int) -> CallbackView | None:
        row = self._pending(campaign_id, record_id)
        if row is None:
            return None
        return CallbackView(
            kind=row.kind,
            status=CallbackStatus(row.status),
            due_at=row.due_at,
            number=row.number,
            note=row.note,
            agent_id=row.agent_id,
        )

    def report(self, campaign_id: int, *, due_at: datetime | None) -> list[CampaignCallback]:
        query = (
            select(Callback, User.user_id, AgentSession.user_id)
            .outerjoin(User, User.id == Callback.agent_id)
            .outerjoin(
                AgentSession,
                (AgentSession.campaign_id == Callback.campaign_id)
                & (AgentSession.user_id == Callback.agent_id),
            )
            .where(Callback.campaign_id == campaign_id)
            .order_by(Callback.due_at, Callback.id)
        )
        if due_at is None:
            query = query.where(Callback.status.in_(_OPEN))
        else:
            # A personal callback waits for its agent, however long that is.
            query = query.join(
                CampaignRecord,
                (CampaignRecord.campaign_id == Callback.campaign_id)
                & (CampaignRecord.record_id == Callback.record_id),
            ).where(
                Callback.status == _SCHEDULED,
                Callback.due_at <= due_at,
                CampaignRecord.status == RecordStatus.WAITING.value,
            )
        return [
            CampaignCallback(
                id=callback.id,
                campaign_id=callback.campaign_id,
                record_id=callback.record_id,
                kind=callback.kind,
                agent_user_id=user_id,
                due_at=callback.due_at,
                number=callback.number,
                note=callback.note,
                status=callback.status,
                agent_logged_in=due_at is not None and logged_in is not None,
            )
            for callback, user_id, logged_in in self.session.execute(query).all()
        ]

    def _pending(self, campaign_id: int, record_id: int) -> Any:
        found = self.session.execute(_PENDING, {"campaign": campaign_id, "record": record_id})
        return found.one_or_none()

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
        where = {"campaign": campaign_id, "record": record_id}
        existing = self._pending(campaign_id, record_id)
        if existing is not None and existing.status == CallbackStatus.DELIVERED:
            # The callback being handled now is over: the contact asked for a new one, which
            # must stand after Done (Done closes a delivered callback instead of applying it).
            done = {**where, "new_status": CallbackStatus.DONE.value, "now": now}
            self.session.execute(_MARK, done)
            existing = None
        values = {
            **where,
            "callback_kind": plan.kind.value,
            "target": plan.agent_id,
            "due": plan.due_at,
            "e164": number,
            "text": note,
            "now": now,
        }
        if existing is None:
            callback_id = int(self.session.scalar(_NEW, {**values, "creator": created_by}))
        else:
            callback_id = int(existing.id)
            self.session.execute(_CHANGE, {**values, "callback": callback_id})
        user_id = (
            self.session.scalar(_USER_ID, {"user": plan.agent_id})
            if plan.agent_id is not None
            else None
        )
        return ScheduledCallback(
            id=callback_id,
            campaign_id=campaign_id,
            record_id=record_id,
            kind=plan.kind,
            agent_id=plan.agent_id,
            agent_user_id=user_id,
            due_at=plan.due_at,
            number=number,
            note=note,
            status=CallbackStatus.SCHEDULED,
        )

    def cancel(self, campaign_id: int, record_id: int, now: datetime) -> bool:
        params = {
            "campaign": campaign_id,
            "record": record_id,
            "new_status": CallbackStatus.CANCELLED.value,
            "now": now,
        }
        return bool(self.session.execute(_MARK, params).rowcount)  # type: ignore[attr-defined]

    def mark(self, campaign_id: int, record_id: int, status: CallbackStatus, now: datetime) -> None:
        params = {"campaign": campaign_id, "record": record_id, "new_status": status.value}
        self.session.execute(_MARK, params | {"now": now})

    def unmark_delivered(self, campaign_id: int, record_id: int, now: datetime) -> None:
        params = {"campaign": campaign_id, "record": record_id, "now": now}
        self.session.execute(_UNMARK_DELIVERED, params)


def follow_owner(session: Session, records: Any, now: datetime) -> None:
    """The leads ``records`` (ids, or a query of them) got a new owner: in lead-ownership
    campaigns, where an owned lead reaches only its owner, their pending personal callbacks
    follow it. They wait for the new owner, or, when the lead has no owner any more, become
    callbacks for any agent (whose skills match the general lead)."""
    lead_campaigns = select(Campaign.id).where(Campaign.enforce_lead_ownership.is_(True))
    owner = select(Record.owner_id).where(Record.id == _CALLBACKS.c.record_id).scalar_subquery()
    session.execute(
        update(_CALLBACKS)
        .where(
            _CALLBACKS.c.record_id.in_(records),
            _CALLBACKS.c.campaign_id.in_(lead_campaigns),
            _CALLBACKS.c.kind == CallbackKind.PERSONAL.value,
            _CALLBACKS.c.status == _SCHEDULED,
        )
        .values(
            agent_id=owner,
            kind=case((owner.is_(None), CallbackKind.ANY.value), else_=_CALLBACKS.c.kind),
            updated_at=now,
        )
    )
    cr = table_of(CampaignRecord)
    new_owner = select(Record.owner_id).where(Record.id == cr.c.record_id).scalar_subquery()
    session.execute(
        update(cr)
        .where(
            cr.c.record_id.in_(records),
            cr.c.campaign_id.in_(lead_campaigns),
            cr.c.status == RecordStatus.WAITING.value,
            cr.c.reserved_for.is_not(None),
        )
        .values(reserved_for=new_owner)
    )
