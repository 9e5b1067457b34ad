"""Campaign ownership of records on shared lists (SPEC §6): claims, renewals, re-dating,
releases and the tracking report. Every change is audited per record.

Correctness rests on two things: a partial unique index allows one open ownership
per record (so of two campaigns claiming at once exactly one wins, in any number of
processes), and every campaign's claim statement refuses records another campaign
owns (:mod:`callhopper.store.dispensing`). For speed, the other campaigns' rows of an
owned record are also set aside as ``blocked`` until the ownership's expiry, so that
their claims do not walk past them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, column, func, insert, literal, or_, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from callhopper.domain.actors import SYSTEM, Actor
from callhopper.domain.campaign_ownership import OwnershipSettings, expiry, renewal_due
from callhopper.domain.errors import InvalidInput
from callhopper.store.audit import audit
from callhopper.store.contact_lists import get_list
from callhopper.store.models import (
    AuditEntry,
    Campaign,
    CampaignRecord,
    ContactList,
    Record,
    RecordOwnership,
    table_of,
)
from callhopper.store.types import UTCDateTime

_CHUNK = 5000
#: The audit action of a campaign's claim of a record.
CLAIM_ACTION = "ownership.claim"
#: The audit action of an ownership found past its end (closed when next touched).
EXPIRE_ACTION = "ownership.expire"


def settings_of(contact_list: ContactList) -> OwnershipSettings:
    return OwnershipSettings.model_validate(contact_list.ownership or {})


def _open(now: datetime | ColumnElement[datetime]) -> Any:
    """Open ownerships that have not expired."""
    return and_(
        RecordOwnership.released_at.is_(None),
        or_(RecordOwnership.expires_at.is_(None), RecordOwnership.expires_at > now),
    )


# The statements of every wrap-up on a list with ownership on, built once (hot path).
_NOW = bindparam("now", type_=UTCDateTime())
_UNTIL = bindparam("until", type_=UTCDateTime())
_OWNERSHIP = table_of(RecordOwnership)
_RECORDS = table_of(Record)
_CAMPAIGN_RECORDS = table_of(CampaignRecord)
_ACTIVE_OWNER = select(RecordOwnership).where(
    RecordOwnership.record_id == bindparam("record"), _open(_NOW)
)
_CLOSE_EXPIRED = (
    update(_OWNERSHIP)
    .where(
        _OWNERSHIP.c.record_id == bindparam("record"),
        _OWNERSHIP.c.released_at.is_(None),
        _OWNERSHIP.c.expires_at <= _NOW,
    )
    .values(released_at=_OWNERSHIP.c.expires_at, release_reason="expired")
    .returning(
        _OWNERSHIP.c.record_id,
        _OWNERSHIP.c.campaign_id,
        _OWNERSHIP.c.campaign_name,
        _OWNERSHIP.c.expires_at,
    )
)
# No parameter is named after a column: an UPDATE in the same statement (below) would add it
# to what it sets.
# ``{guard}``: a condition the claim waits for (SQLite needs a WHERE between an
# ``INSERT … SELECT`` and its ``ON CONFLICT``; PostgreSQL's one statement orders itself by it).
_CLAIM_SQL = (
    "INSERT INTO record_ownership "
    "(list_id, record_id, campaign_id, campaign_name, owned_at, expires_at) "
    "SELECT :list, :record, :campaign, :name, :now, :until WHERE {guard} "
    "ON CONFLICT (record_id) WHERE released_at IS NULL DO NOTHING RETURNING id"
)
_CLAIM = text(_CLAIM_SQL.format(guard="true")).bindparams(_NOW, _UNTIL)
_MIRROR = (
    update(_RECORDS)
    .where(_RECORDS.c.id == bindparam("record"))
    .values(owner_campaign_id=bindparam("campaign"), owner_until=_UNTIL)
)
_SET_BLOCKS = (
    update(_CAMPAIGN_RECORDS)
    .where(
        _CAMPAIGN_RECORDS.c.record_id == bindparam("record"),
        _CAMPAIGN_RECORDS.c.campaign_id != bindparam("campaign"),
        _CAMPAIGN_RECORDS.c.status.in_(("ready", "waiting", "blocked")),
    )
    .values(status="blocked", blocked_until=_UNTIL, retry_at=None)
)
# PostgreSQL: in one statement, an expired open ownership closed, then the claim, and when it
# took the record, the owner mirrored on the record, the record set aside in the other
# campaigns and the claim audited. Each part reads the output of the one before it, which
# makes it run after it (the claim counts the rows closed: it must not meet the expired row
# in the one-open-ownership index); those after the claim run only if it inserted.
_CLOSED = _CLOSE_EXPIRED.cte("closed")
_CLAIMED = (
    text(_CLAIM_SQL.format(guard="(SELECT count(*) FROM closed) >= 0"))
    .bindparams(_NOW, _UNTIL)
    .columns(column("id"))
    .cte("claimed")
)
_TOOK_IT = select(_CLAIMED.c.id).exists()
_AUDIT = table_of(AuditEntry)
# No parameter is named after a column (see _CLAIM).
_AUDITED = insert(_AUDIT).from_select(
    ["at", "actor_id", "actor", "action", "target_type", "target_id", "reason", "after"],
    select(
        _NOW,
        bindparam("actor_key", type_=_AUDIT.c.actor_id.type),
        bindparam("actor_name", type_=_AUDIT.c.actor.type),
        literal(CLAIM_ACTION),
        literal("record"),
        bindparam("target", type_=_AUDIT.c.target_id.type),
        bindparam("claim_reason", type_=_AUDIT.c.reason.type),
        bindparam("claim_view", type_=_AUDIT.c.after.type),
    ).where(_TOOK_IT),
)
# It answers with the expired ownership it closed, if any (for the audit).
_CLAIM_AND_SET_ASIDE_POSTGRESQL = (
    select(
        _CLOSED.c.record_id, _CLOSED.c.campaign_id, _CLOSED.c.campaign_name, _CLOSED.c.expires_at
    )
    .add_cte(_CLOSED)  # first: the claim reads it
    .add_cte(_CLAIMED)
    .add_cte(_MIRROR.where(_TOOK_IT).cte("mirrored"))
    .add_cte(_SET_BLOCKS.where(_TOOK_IT).cte("set_aside"))
    .add_cte(_AUDITED.cte("audited"))
)


def active_owner(session: Session, record_id: int, now: datetime) -> RecordOwnership | None:
    return session.scalar(_ACTIVE_OWNER, {"record": record_id, "now": now})


# --- claims and renewals (from a wrap-up) -------------------------------------------------------


def after_attempt(
    session: Session,
    actor: Actor,
    campaign: Campaign,
    settings: OwnershipSettings,
    record_id: int,
    *,
    valid: bool,
    code: str,
    now: datetime,
) -> None:
    """Apply SPEC §6 after a wrap-up (``code``) on a list with ownership enabled: a valid
    attempt claims an unowned record; a call that could not be completed renews the
    campaign's ownership when it is close to expiry."""
    if not valid:
        owner = active_owner(session, record_id, now)
        if (
            owner is not None
            and owner.campaign_id == campaign.id
            and renewal_due(now, owner.expires_at, settings.duration)
        ):
            before = owner.expires_at
            owner.expires_at = expiry(now, settings.duration)
            _mirror(session, record_id, campaign.id, owner.expires_at)
            _set_blocks(session, record_id, campaign.id, owner.expires_at)
            audit(
                session,
                actor,
                "ownership.renew",
                "record",
                record_id,
                now=now,
                before=_view(campaign.id, campaign.name, before),
                after=_view(campaign.id, campaign.name, owner.expires_at),
                reason=f"call not completed (wrap-up {code!r}) close to expiry",
            )
        return
    # A valid attempt claims the record unless a campaign owns it now: the claim's INSERT
    # then meets that open ownership and does nothing (no need to read the owner first).
    # An open row past its expiry is over: closed first, so the record can be owned again.
    until = expiry(now, settings.duration)
    params: dict[str, Any] = {
        "list": campaign.list_id,
        "record": record_id,
        "campaign": campaign.id,
        "name": campaign.name,
        "now": now,
        "until": until,
    }
    view = _view(campaign.id, campaign.name, until)
    reason = f"valid attempt (wrap-up {code!r})"
    if session.get_bind().dialect.name == "postgresql":
        params |= {
            "actor_key": actor.id,
            "actor_name": actor.user_id,
            "target": str(record_id),
            "claim_reason": reason,
            "claim_view": view,
        }
        _audit_expired(session, session.execute(_CLAIM_AND_SET_ASIDE_POSTGRESQL, params).all(), now)
        return
    _audit_expired(
        session, session.execute(_CLOSE_EXPIRED, {"record": record_id, "now": now}).all(), now
    )
    if session.scalar(_CLAIM, params) is None:
        return  # owned already: by this campaign, or by another whose claim committed first
    _mirror(session, record_id, campaign.id, until)
    _set_blocks(session, record_id, campaign.id, until)
    audit(session, actor, CLAIM_ACTION, "record", record_id, now=now, after=view, reason=reason)


def _mirror(session: Session, record_id: int, campaign_id: int, until: datetime | None) -> None:
    """Keep the record's own copy of its owner, which every claim re-checks under lock."""
    session.execute(_MIRROR, {"record": record_id, "campaign": campaign_id, "until": until})


def _set_blocks(session: Session, record_id: int, owner_id: int, until: datetime | None) -> None:
    """Set the record aside in the other campaigns until the ownership ends."""
    session.execute(_SET_BLOCKS, {"record": record_id, "campaign": owner_id, "until": until})


def _view(campaign_id: int, name: str, expires_at: datetime | None) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "campaign": name,
        "expires_at": expires_at.isoformat() if expires_at is not None else None,
    }


# --- the ownership tab --------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerCount:
    campaign_id: int
    campaign_name: str
    records: int


def owners(session: Session, list_id: int, now: datetime) -> list[OwnerCount]:
    """The campaigns that own records of the list now, with how many."""
    rows = session.execute(
        select(RecordOwnership.campaign_id, RecordOwnership.campaign_name, func.count())
        .where(RecordOwnership.list_id == list_id, _open(now))
        .group_by(RecordOwnership.campaign_id, RecordOwnership.campaign_name)
        .order_by(RecordOwnership.campaign_name)
    ).all()
    return [OwnerCount(c, n, int(k)) for c, n, k in rows]


def update_settings(
    session: Session, actor: Actor, list_id: int, settings: OwnershipSettings, *, now: datetime
) -> ContactList:
    """Change the list's ownership settings. A new duration re-dates every current claim to
    ``owned_at + duration`` (ending it at once when that is past), on a disabled list too;
    disabling keeps the current claims and stops new ones."""
    contact_list = get_list(session, list_id)
    before = settings_of(contact_list)
    contact_list.ownership = settings.model_dump(mode="json")
    contact_list.updated_at = now
    audit(
        session,
        actor,
        "contact_list.ownership_settings",
        "contact_list",
        list_id,
        now=now,
        before=before.model_dump(mode="json"),
        after=settings.model_dump(mode="json"),
    )
    if before.duration != settings.duration:
        # Disabled or not: claims taken while it was on stay until they end (SPEC §6), and
        # every current claim follows the duration.
        _redate(session, actor, list_id, settings.duration, now=now)
    return contact_list


def _redate(
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
            _audit_row(
                actor,
                "ownership.redate",
                record_id,
                now,
                before=_view(campaign_id, name, old),
                after=_view(campaign_id, name, new),
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
    for start in range(0, len(changes), _CHUNK):
        session.connection().execute(statement, changes[start : start + _CHUNK])
        session.execute(insert(AuditEntry), entries[start : start + _CHUNK])
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
    get_list(session, list_id)
    _close_expired(session, list_id, now)
    query = select(
        RecordOwnership.id,
        RecordOwnership.record_id,
        RecordOwnership.campaign_id,
        RecordOwnership.campaign_name,
        RecordOwnership.expires_at,
    ).where(RecordOwnership.list_id == list_id, RecordOwnership.released_at.is_(None))
    if campaign_ids is not None:
        if not campaign_ids:
            raise InvalidInput("name at least one campaign, or release all", field="campaign_ids")
        query = query.where(RecordOwnership.campaign_id.in_(list(campaign_ids)))
    rows = session.execute(query).all()
    counts: dict[int, int] = {}
    ids = [r[0] for r in rows]
    for start in range(0, len(ids), _CHUNK):
        session.execute(
            update(RecordOwnership)
            .where(RecordOwnership.id.in_(ids[start : start + _CHUNK]))
            .values(released_at=now, release_reason="released")
            .execution_options(synchronize_session=False)
        )
    entries = []
    for _, record_id, campaign_id, name, expires_at in rows:
        counts[campaign_id] = counts.get(campaign_id, 0) + 1
        entries.append(
            _audit_row(
                actor,
                "ownership.release",
                record_id,
                now,
                before=_view(campaign_id, name, expires_at),
                after=None,
                reason=reason,
            )
        )
    for start in range(0, len(entries), _CHUNK):
        session.execute(insert(AuditEntry), entries[start : start + _CHUNK])
    sync_blocks(session, list_id, now)
    return counts


def release_campaign(session: Session, actor: Actor, campaign: Campaign, *, now: datetime) -> None:
    """A deleted campaign owns nothing any more."""
    release(
        session,
        actor,
        campaign.list_id,
        [campaign.id],
        now=now,
        reason=f"campaign {campaign.name!r} deleted",
    )


def _close_expired(session: Session, list_id: int, now: datetime) -> None:
    o = RecordOwnership
    closed = session.execute(
        update(o)
        .where(o.list_id == list_id, o.released_at.is_(None), o.expires_at <= now)
        .values(released_at=o.expires_at, release_reason="expired")
        .returning(o.record_id, o.campaign_id, o.campaign_name, o.expires_at)
        .execution_options(synchronize_session=False)
    ).all()
    _audit_expired(session, closed, now)


def _audit_expired(session: Session, closed: Sequence[Any], now: datetime) -> None:
    """Ownerships closed because their time was over, each audited as ending then (by the
    system: nobody ended it) with the campaign that owned the record."""
    entries = [
        _audit_row(
            SYSTEM,
            EXPIRE_ACTION,
            record_id,
            now,
            before=_view(campaign_id, name, expires_at),
            after=None,
            reason=f"the ownership ended at {expires_at.isoformat()}",
        )
        for record_id, campaign_id, name, expires_at in closed
    ]
    for start in range(0, len(entries), _CHUNK):
        session.execute(insert(AuditEntry), entries[start : start + _CHUNK])


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
            _open(now),
        )
        .exists()
    )
    session.execute(
        update(cr)
        .where(cr.status == "blocked", cr.record_id.in_(of_list), ~owned_elsewhere)
        .values(status="ready", blocked_until=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(cr)
        .where(cr.status == "blocked", cr.record_id.in_(of_list))
        .values(
            blocked_until=select(RecordOwnership.expires_at)
            .where(RecordOwnership.record_id == cr.record_id, RecordOwnership.released_at.is_(None))
            .scalar_subquery()
        )
        .execution_options(synchronize_session=False)
    )


def _audit_row(
    actor: Actor,
    action: str,
    record_id: int,
    now: datetime,
    *,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str,
) -> dict[str, Any]:
    return {
        "at": now,
        "actor_id": actor.id,
        "actor": actor.user_id,
        "action": action,
        "target_type": "record",
        "target_id": str(record_id),
        "before": before,
        "after": after,
        "reason": reason,
    }


# --- tracking ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackingRow:
    list_id: int
    list_name: str
    campaign_id: int
    campaign_name: str
    owned: int
    expiring_24h: int
    released_24h: int


def tracking(session: Session, now: datetime, list_id: int | None = None) -> list[TrackingRow]:
    """Per list and campaign: records owned now, expiring in the next 24 hours, and released
    (or expired) in the last 24 hours."""
    o = RecordOwnership
    day = timedelta(hours=24)
    is_open = _open(now)
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
            func.count().filter(is_open),
            func.count().filter(
                and_(is_open, o.expires_at.is_not(None), o.expires_at <= now + day)
            ),
            func.count().filter(ended_recently),
        )
        .join(ContactList, ContactList.id == o.list_id)
        .where(or_(is_open, ended_recently))
        .group_by(o.list_id, ContactList.name, o.campaign_id, o.campaign_name)
        .order_by(ContactList.name, o.campaign_name)
    )
    if list_id is not None:
        query = query.where(o.list_id == list_id)
    return [
        TrackingRow(lid, lname, cid, cname, int(a), int(b), int(c))
        for lid, lname, cid, cname, a, b, c in session.execute(query)
    ]
