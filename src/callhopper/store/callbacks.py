"""Callbacks scheduled by agents (SPEC §4.2).

A callback is scheduled while the record is with the agent, can be changed or cancelled
until the record is closed, and takes effect at Done: the record then waits, reserved
for whoever the callback is for, until its time, when claims serve it before every other
record of the campaign. A personal callback of an owned record is for the owner: it waits
for them, and shows on the callbacks report while it does; it is never given to another
agent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.errors import InvalidInput
from callhopper.domain.phones import PhoneError, normalise_phone
from callhopper.store.models import AgentSession, Callback, CampaignRecord, Record, table_of
from callhopper.store.types import UTCDateTime

PENDING = ("scheduled", "delivered")


@dataclass(frozen=True)
class CallbackPlan:
    due_at: datetime
    kind: str
    #: Who gets it (``None``: any agent of the queue).
    agent_id: int | None


def plan(
    *,
    at: datetime,
    kind: str,
    record: Record,
    owner_id: int | None,
    agent_id: int,
    window: CallingWindow,
    now: datetime,
) -> CallbackPlan:
    """Check a callback time and work out who gets the callback.

    ``at`` without a zone is the contact's local time. The time must be in the future
    and inside the campaign's calling window in the contact's zone. A personal callback
    goes to the record's owner when it has one, else to the agent scheduling it.
    """
    if kind not in ("personal", "any"):
        raise InvalidInput(f"a callback is 'personal' or 'any', not {kind!r}", field="kind")
    if record.tz is None:
        raise InvalidInput("the contact's time zone is unknown", field="at")
    zone = ZoneInfo(record.tz)
    due = (at.replace(tzinfo=zone) if at.tzinfo is None else at).astimezone(UTC)
    if due <= now:
        raise InvalidInput(
            f"the callback time {due.astimezone(zone):%Y-%m-%d %H:%M} ({record.tz}) is in the past",
            field="at",
        )
    if not window.is_open(due, record.tz):
        raise InvalidInput(
            f"{due.astimezone(zone):%Y-%m-%d %H:%M} is outside the calling window "
            f"({window.describe()}) in the contact's zone {record.tz}",
            field="at",
        )
    target = None
    if kind == "personal":
        target = owner_id if owner_id is not None else agent_id
    return CallbackPlan(due, kind, target)


def schedule(
    session: Session,
    *,
    campaign_id: int,
    record: Record,
    created_by: int,
    plan_: CallbackPlan,
    number: str | None,
    region: str,
    note: str,
    now: datetime,
) -> Callback:
    """Schedule (or change) the callback of a record in a campaign."""
    e164 = None
    if number:
        try:
            e164 = normalise_phone(number, region)
        except PhoneError as exc:
            raise InvalidInput(str(exc), field="number") from None
    existing = pending(session, campaign_id, record.id)
    if existing is not None and existing.status == "delivered":
        # The callback being handled now is over: the contact asked for a new one, which
        # must stand after Done (Done closes a delivered callback instead of applying it).
        existing.status = "done"
        existing.updated_at = now
        session.flush()
        existing = None
    if existing is None:
        existing = Callback(
            campaign_id=campaign_id,
            record_id=record.id,
            created_by=created_by,
            created_at=now,
            status="scheduled",
        )
        session.add(existing)
    existing.kind = plan_.kind
    existing.agent_id = plan_.agent_id
    existing.due_at = plan_.due_at
    existing.number = e164
    existing.note = note
    existing.updated_at = now
    session.flush()
    return existing


_PENDING = select(Callback).where(
    Callback.campaign_id == bindparam("campaign"),
    Callback.record_id == bindparam("record"),
    Callback.status.in_(PENDING),
)


def pending(session: Session, campaign_id: int, record_id: int) -> Callback | None:
    """The record's callback not done or cancelled yet, if any (one per record and campaign)."""
    return session.scalar(_PENDING, {"campaign": campaign_id, "record": record_id})


def cancel(session: Session, campaign_id: int, record_id: int, now: datetime) -> bool:
    callback = pending(session, campaign_id, record_id)
    if callback is None:
        return False
    callback.status = "cancelled"
    callback.updated_at = now
    return True


def mark(session: Session, campaign_id: int, record_id: int, status: str, now: datetime) -> None:
    session.execute(
        update(Callback)
        .where(
            Callback.campaign_id == campaign_id,
            Callback.record_id == record_id,
            Callback.status.in_(PENDING),
        )
        .values(status=status, updated_at=now)
    )


@dataclass(frozen=True)
class WaitingCallback:
    callback: Callback
    agent_logged_in: bool


def due(session: Session, campaign_id: int, now: datetime) -> Sequence[WaitingCallback]:
    """Callbacks whose time has come and that no agent has taken yet (the callbacks report:
    a personal callback waits for its agent, however long that is)."""
    rows = session.execute(
        select(Callback, AgentSession.user_id)
        .join(
            CampaignRecord,
            (CampaignRecord.campaign_id == Callback.campaign_id)
            & (CampaignRecord.record_id == Callback.record_id),
        )
        .outerjoin(
            AgentSession,
            (AgentSession.campaign_id == Callback.campaign_id)
            & (AgentSession.user_id == Callback.agent_id),
        )
        .where(
            Callback.campaign_id == campaign_id,
            Callback.status == "scheduled",
            Callback.due_at <= now,
            CampaignRecord.status == "waiting",
        )
        .order_by(Callback.due_at)
    ).all()
    return [WaitingCallback(cb, logged_in is not None) for cb, logged_in in rows]


def scheduled(session: Session, campaign_id: int) -> Sequence[Callback]:
    return session.scalars(
        select(Callback)
        .where(Callback.campaign_id == campaign_id, Callback.status.in_(PENDING))
        .order_by(Callback.due_at)
    ).all()


_CALLBACKS = table_of(Callback)
#: A claimed record's callback whose time had come is that callback's delivery.
MARK_DUE_DELIVERED = (
    update(_CALLBACKS)
    .where(
        _CALLBACKS.c.campaign_id == bindparam("campaign"),
        _CALLBACKS.c.record_id == bindparam("record"),
        _CALLBACKS.c.status == "scheduled",
        _CALLBACKS.c.due_at <= bindparam("now", type_=UTCDateTime()),
    )
    .values(status="delivered", updated_at=bindparam("now", type_=UTCDateTime()))
)


def unmark_delivered(session: Session, campaign_id: int, record_id: int, now: datetime) -> None:
    """A delivered callback the agent did not take (rejected, timed out) is scheduled again."""
    session.execute(
        update(Callback)
        .where(
            Callback.campaign_id == campaign_id,
            Callback.record_id == record_id,
            Callback.status == "delivered",
        )
        .values(status="scheduled", updated_at=now)
    )
