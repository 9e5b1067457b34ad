"""The campaign ownership store (:class:`callhopper.ports.ownership.OwnershipStore`): the
ownership tab of a list (who owns what, releases, re-dating after a new duration) and the
tracking report. Every change is audited per record, in chunks of set-based statements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from callhopper.domain.actors import Actor
from callhopper.domain.campaign_ownership import expiry
from callhopper.domain.ownership_reports import CampaignOwner, OwnerCount, TrackingRow
from callhopper.domain.records import RecordStatus
from callhopper.store.models import (
    AuditEntry,
    Campaign,
    CampaignRecord,
    ContactList,
    Record,
    RecordOwnership,
)
from callhopper.store.ownership import (
    CHUNK,
    active_owner,
    audit_expired,
    audit_row,
    is_open,
    ownership_view,
)
from callhopper.store.types import UTCDateTime


class SqlOwnershipStore:
    """Campaign ownership in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def owner_of(self, record_id: int, now: datetime) -> CampaignOwner | None:
        held = active_owner(self.session, record_id, now)
        if held is None:
            return None
        return CampaignOwner(held.campaign_id, held.campaign_name, held.owned_at, held.expires_at)

    def owners(self, list_id: int, now: datetime) -> list[OwnerCount]:
        return owners(self.session, list_id, now)

    def redate(
        self, actor: Actor, list_id: int, duration: timedelta | None, *, now: datetime
    ) -> None:
        redate(self.session, actor, list_id, duration, now=now)

    def release(
        self,
        actor: Actor,
        list_id: int,
        campaign_ids: Sequence[int] | None,
        *,
        now: datetime,
        reason: str,
    ) -> dict[int, int]:
        return release(self.session, actor, list_id, campaign_ids, now=now, reason=reason)

    def campaigns_on_list(self, list_id: int, campaign_ids: Sequence[int]) -> set[int]:
        return set(
            self.session.scalars(
                select(Campaign.id).where(
                    Campaign.list_id == list_id, Campaign.id.in_(list(campaign_ids))
                )
            )
        )

    def tracking(self, now: datetime, list_id: int | None) -> list[TrackingRow]:
        return tracking(self.session, now, list_id)


def owners(session: Session, list_id: int, now: datetime) -> list[OwnerCount]:
    """The campaigns that own records of the list now, with how many."""
    rows = session.execute(
        select(RecordOwnership.campaign_id, RecordOwnership.campaign_name, func.count())
        .where(RecordOwnership.list_id == list_id, is_open(now))
        .group_by(RecordOwnership.campaign_id, RecordOwnership.campaign_name)
        .order_by(RecordOwnership.campaign_name)
    ).all()
    return [OwnerCount(c, n, int(k)) for c, n, k in rows]


def redate(
    session: Session, actor: Actor, list_id: int, duration: timedelta | None, *, now: datetime
) -> None:
    _close_expired(session, list_id, now)
    rows = session.execute(
        select(
            RecordOwnership.id,
            RecordOwnership.record_id,
            RecordOwnership.campaign_id,
            RecordOwnership.campaign_name,
            RecordOwnership.owned_at,
            RecordOwnership.expires_at,
        ).where(RecordOwnership.list_id == list_id, RecordOwnership.released_at.is_(None))
    ).all()
    changes = []
    entries = []
    for row_id, record_id, campaign_id, name, owned_at, old in rows:
        new = expiry(owned_at, duration)
        ended = new is not None and new <= now
        changes.append(
            {
                "row_id": row_id,
                "new_expiry": new,
                "new_end": now if ended else None,
                "new_reason": "expired" if ended else None,
            }
        )
        entries.append(
            audit_row(
                actor,
                "ownership.redate",
                record_id,
                now,
                before=ownership_view(campaign_id, name, old),
                after=ownership_view(campaign_id, name, new),
                reason="ended: the new duration is already over" if ended else "",
            )
        )
    statement = (
        update(RecordOwnership)
        .where(RecordOwnership.id == bindparam("row_id"))
        .values(
            expires_at=bindparam("new_expiry", type_=UTCDateTime()),
            released_at=bindparam("new_end", type_=UTCDateTime()),
            release_reason=bindparam("new_reason"),
        )
    )
    for start in range(0, len(changes), CHUNK):
        session.connection().execute(statement, changes[start : start + CHUNK])
        session.execute(insert(AuditEntry), entries[start : start + CHUNK])
    sync_blocks(session, list_id, now)


def release(
    session: Session,
    actor: Actor,
    list_id: int,
    campaign_ids: Sequence[int] | None,
    *,
    now: datetime,
    reason: str = "",
) -> dict[int, int]:
    """Release every record owned by the given campaigns (all when ``None``): other
    campaigns may take them at once. Returns how many records each campaign lost."""
    _close_expired(session, list_id, now)
    query = select(
        RecordOwnership.id,
        RecordOwnership.record_id,
        RecordOwnership.campaign_id,
        RecordOwnership.campaign_name,
        RecordOwnership.expires_at,
    ).where(RecordOwnership.list_id == list_id, RecordOwnership.released_at.is_(None))
    if campaign_ids is not None:
        query = query.where(RecordOwnership.campaign_id.in_(list(campaign_ids)))
    rows = session.execute(query).all()
    counts: dict[int, int] = {}
    ids = [r[0] for r in rows]
    for start in range(0, len(ids), CHUNK):
        session.execute(
            update(RecordOwnership)
            .where(RecordOwnership.id.in_(ids[start : start + CHUNK]))
            .values(released_at=now, release_reason="released")
            .execution_options(synchronize_session=False)
        )
    entries = []
    for _, record_id, campaign_id, name, expires_at in rows:
        counts[campaign_id] = counts.get(campaign_id, 0) + 1
        entries.append(
            audit_row(
                actor,
                "ownership.release",
                record_id,
                now,
                before=ownership_view(campaign_id, name, expires_at),
                after=None,
                reason=reason,
            )
        )
    for start in range(0, len(entries), CHUNK):
        session.execute(insert(AuditEntry), entries[start : start + CHUNK])
    sync_blocks(session, list_id, now)
    return counts


def _close_expired(session: Session, list_id: int, now: datetime) -> None:
    o = RecordOwnership
    closed = session.execute(
        update(o)
        .where(o.list_id == list_id, o.released_at.is_(None), o.expires_at <= now)
        .values(released_at=o.expires_at, release_reason="expired")
        .returning(o.record_id, o.campaign_id, o.campaign_name, o.expires_at)
        .execution_options(synchronize_session=False)
    ).all()
    audit_expired(session, closed, now)


def sync_blocks(session: Session, list_id: int, now: datetime) -> None:
    """Make the records' owner copies and the ``blocked`` rows of the list's campaigns
    match the open ownerships (after releases and re-dating)."""
    o = RecordOwnership
    open_row = and_(o.record_id == Record.id, o.released_at.is_(None))
    session.execute(
        update(Record)
        .where(
            Record.list_id == list_id,
            Record.owner_campaign_id.is_not(None),
            ~select(o.id).where(open_row).exists(),
        )
        .values(owner_campaign_id=None, owner_until=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Record)
        .where(Record.list_id == list_id, select(o.id).where(open_row).exists())
        .values(
            owner_campaign_id=select(o.campaign_id).where(open_row).scalar_subquery(),
            owner_until=select(o.expires_at).where(open_row).scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    )
    cr = CampaignRecord
    of_list = select(Record.id).where(Record.list_id == list_id)
    owned_elsewhere = (
        select(RecordOwnership.id)
        .where(
            RecordOwnership.record_id == cr.record_id,
            RecordOwnership.campaign_id != cr.campaign_id,
            is_open(now),
        )
        .exists()
    )
    session.execute(
        update(cr)
        .where(cr.status == RecordStatus.BLOCKED, cr.record_id.in_(of_list), ~owned_elsewhere)
        .values(status=RecordStatus.READY, blocked_until=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(cr)
        .where(cr.status == RecordStatus.BLOCKED, cr.record_id.in_(of_list))
        .values(
            blocked_until=select(RecordOwnership.expires_at)
            .where(RecordOwnership.record_id == cr.record_id, RecordOwnership.released_at.is_(None))
            .scalar_subquery()
        )
        .execution_options(synchronize_session=False)
    )


def tracking(session: Session, now: datetime, list_id: int | None = None) -> list[TrackingRow]:
    """Per list and campaign: records owned now, expiring in the next 24 hours, and released
    (or expired) in the last 24 hours."""
    o = RecordOwnership
    day = timedelta(hours=24)
    open_now = is_open(now)
    ended_recently = or_(
        and_(o.released_at.is_not(None), o.released_at > now - day, o.released_at <= now),
        and_(o.released_at.is_(None), o.expires_at > now - day, o.expires_at <= now),
    )

    query = (
        select(
            o.list_id,
            ContactList.name,
            o.campaign_id,
            o.campaign_name,
            func.count().filter(open_now),
            func.count().filter(
                and_(open_now, o.expires_at.is_not(None), o.expires_at <= now + day)
            ),
            func.count().filter(ended_recently),
        )
        .join(ContactList, ContactList.id == o.list_id)
        .where(or_(open_now, ended_recently))
        .group_by(o.list_id, ContactList.name, o.campaign_id, o.campaign_name)
        .order_by(ContactList.name, o.campaign_name)
    )
    if list_id is not None:
        query = query.where(o.list_id == list_id)
    return [
        TrackingRow(lid, lname, cid, cname, int(a), int(b), int(c))
        for lid, lname, cid, cname, a, b, c in session.execute(query)
    ]
