"""Campaign ownership of records on shared lists: the claims and renewals that follow a
wrap-up (the hot path), and what the ownership tab's changes share with them
(:mod:`callhopper.store.ownership_admin`). Every change is audited per record.

Correctness rests on two things: a partial unique index allows one open ownership
per record (so of two campaigns claiming at once exactly one wins, in any number of
processes), and every campaign's claim statement refuses records another campaign
owns (:mod:`callhopper.store.dispensing`). For speed, the other campaigns' rows of an
owned record are also set aside as ``blocked`` until the ownership's expiry, so that
their claims do not walk past them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, column, insert, literal, or_, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from callhopper.domain.actors import SYSTEM, Actor
from callhopper.domain.campaign_ownership import OwnershipSettings, expiry, renewal_due
from callhopper.domain.dispensing import CampaignContext
from callhopper.domain.records import RecordStatus as S
from callhopper.store.audit import audit
from callhopper.store.models import (
    AuditEntry,
    CampaignRecord,
    Record,
    RecordOwnership,
    table_of,
)
from callhopper.store.types import UTCDateTime

#: Audit entries (and ownership rows) written per statement.
CHUNK = 5000
#: The audit action of a campaign's claim of a record.
CLAIM_ACTION = "ownership.claim"
#: The audit action of an ownership found past its end (closed when next touched).
EXPIRE_ACTION = "ownership.expire"


def is_open(now: datetime | ColumnElement[datetime]) -> Any:
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
    RecordOwnership.record_id == bindparam("record"), is_open(_NOW)
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
        _CAMPAIGN_RECORDS.c.status.in_((S.READY, S.WAITING, S.BLOCKED)),
    )
    .values(status=S.BLOCKED, blocked_until=_UNTIL, retry_at=None)
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
    campaign: CampaignContext,
    settings: OwnershipSettings,
    record_id: int,
    *,
    valid: bool,
    code: str,
    now: datetime,
) -> None:
    """Apply campaign ownership after a wrap-up (``code``) on a list with ownership enabled: a valid
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
                before=ownership_view(campaign.id, campaign.name, before),
                after=ownership_view(campaign.id, campaign.name, owner.expires_at),
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
    view = ownership_view(campaign.id, campaign.name, until)
    reason = f"valid attempt (wrap-up {code!r})"
    if session.get_bind().dialect.name == "postgresql":
        params |= {
            "actor_key": actor.id,
            "actor_name": actor.user_id,
            "target": str(record_id),
            "claim_reason": reason,
            "claim_view": view,
        }
        audit_expired(session, session.execute(_CLAIM_AND_SET_ASIDE_POSTGRESQL, params).all(), now)
        return
    audit_expired(
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


def ownership_view(campaign_id: int, name: str, expires_at: datetime | None) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "campaign": name,
        "expires_at": expires_at.isoformat() if expires_at is not None else None,
    }


def audit_expired(session: Session, closed: Sequence[Any], now: datetime) -> None:
    """Ownerships closed because their time was over, each audited as ending then (by the
    system: nobody ended it) with the campaign that owned the record."""
    entries = [
        audit_row(
            SYSTEM,
            EXPIRE_ACTION,
            record_id,
            now,
            before=ownership_view(campaign_id, name, expires_at),
            after=None,
            reason=f"the ownership ended at {expires_at.isoformat()}",
        )
        for record_id, campaign_id, name, expires_at in closed
    ]
    for start in range(0, len(entries), CHUNK):
        session.execute(insert(AuditEntry), entries[start : start + CHUNK])


def audit_row(
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
