"""The history of deliveries (who held which record, from when to when, and how it ended)
and each delivery's interaction: the bookkeeping a claim and the end of a lease write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Integer,
    String,
    bindparam,
    case,
    func,
    insert,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from callhopper.store.callbacks import MARK_DUE_DELIVERED
from callhopper.store.models import Assignment, Interaction, table_of
from callhopper.store.types import UTCDateTime

_ASSIGNMENTS = table_of(Assignment)
_EDITS_TYPE = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

# The history is causal: a delivery of a record never starts before the previous one ended,
# and never ends before it started. Each transaction reads the clock inside itself, but a
# claim on PostgreSQL reads it before its statement finds the record free (a release that
# committed meanwhile may carry a later time), and processes' clocks differ by a few
# milliseconds: so the time written is raised to the previous event's when it is earlier.
_NOW = bindparam("now", type_=UTCDateTime())
_LAST_RELEASE = (
    select(func.max(_ASSIGNMENTS.c.released_at))
    .where(_ASSIGNMENTS.c.record_id == bindparam("record"))
    .scalar_subquery()
)
_LEASED_AT = type_coerce(case((_LAST_RELEASE > _NOW, _LAST_RELEASE), else_=_NOW), UTCDateTime())
_RELEASED_AT = type_coerce(
    case((_ASSIGNMENTS.c.leased_at > _NOW, _ASSIGNMENTS.c.leased_at), else_=_NOW),
    UTCDateTime(),
)
_OPEN_ASSIGNMENT = insert(_ASSIGNMENTS).values(
    campaign_id=bindparam("campaign"),
    campaign_name=bindparam("name"),
    list_id=bindparam("list"),
    record_id=bindparam("record"),
    agent_id=bindparam("agent"),
    pass_no=bindparam("pass"),
    leased_at=_LEASED_AT,
)
_CLOSE_ASSIGNMENT = (
    update(_ASSIGNMENTS)
    .where(
        _ASSIGNMENTS.c.campaign_id == bindparam("campaign"),
        _ASSIGNMENTS.c.record_id == bindparam("record"),
        _ASSIGNMENTS.c.released_at.is_(None),
    )
    .values(
        released_at=_RELEASED_AT,
        outcome=bindparam("history_outcome"),
        code=bindparam("history_code"),
    )
)


_CLOSED_LAPSED = (
    _CLOSE_ASSIGNMENT.values(outcome="expired", code=None)
    .returning(_ASSIGNMENTS.c.id)
    .cte("closed")
)
# The history's new row is selected from a count of the rows closed: reading them makes the
# close run first (sub-statements of a WITH otherwise run in no set order), so the row it
# closes no longer holds the one-open-delivery index when the new one is inserted.
_DELIVER_POSTGRESQL = (
    insert(_ASSIGNMENTS)
    .from_select(
        [
            "campaign_id",
            "campaign_name",
            "list_id",
            "record_id",
            "agent_id",
            "pass_no",
            "leased_at",
        ],
        select(
            bindparam("campaign", type_=Integer()),
            bindparam("name", type_=String()),
            bindparam("list", type_=Integer()),
            bindparam("record", type_=BigInteger()),
            bindparam("agent", type_=Integer()),
            bindparam("pass", type_=Integer()),
            _LEASED_AT,
        ).select_from(select(func.count()).select_from(_CLOSED_LAPSED).subquery()),
    )
    .add_cte(MARK_DUE_DELIVERED.cte("called"))
)

#: The statements of :func:`deliver`, which a batch claim sends once for many records.
DELIVERY_STATEMENTS = (_DELIVER_POSTGRESQL, _CLOSE_ASSIGNMENT, _OPEN_ASSIGNMENT)

# The end of a delivery: its interaction, and the history's row closed. The parameters are
# not named after columns (an UPDATE or INSERT adds such a parameter to what it sets).
_INTERACTIONS = table_of(Interaction)
_END_INTERACTION = insert(_INTERACTIONS).values(
    record_id=bindparam("record"),
    campaign_id=bindparam("campaign"),
    campaign_name=bindparam("name"),
    agent_id=bindparam("agent"),
    kind=bindparam("interaction_kind"),
    at=bindparam("now", type_=UTCDateTime()),
    code=bindparam("interaction_code"),
    note=bindparam("note_text"),
    # no edits: SQL NULL, not JSON null
    edits=bindparam("edits_doc", type_=_EDITS_TYPE),
)
_END_DELIVERY_POSTGRESQL = _END_INTERACTION.add_cte(_CLOSE_ASSIGNMENT.cte("closed"))
#: The same as CTEs, for a release to carry (Done: one statement on PostgreSQL).
END_DELIVERY_CTES = (_END_INTERACTION.cte("ended"), _CLOSE_ASSIGNMENT.cte("closed"))


def deliver(
    session: Session,
    *,
    campaign_id: int,
    campaign_name: str,
    list_id: int,
    pass_no: int,
    record_id: int,
    agent_id: int,
    now: datetime,
) -> None:
    """The bookkeeping of a claim: the delivery appended to the history (a previous holder's
    lapsed lease closed first), and a callback of the record whose time had come marked
    delivered. One statement on PostgreSQL, where each is a round trip of every claim."""
    # No parameter is named after a column: an UPDATE would add it to what it sets.
    params = {
        "campaign": campaign_id,
        "name": campaign_name,
        "list": list_id,
        "record": record_id,
        "agent": agent_id,
        "pass": pass_no,
        "now": now,
    }
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_DELIVER_POSTGRESQL, params)
        return
    close_assignment(session, campaign_id, record_id, now=now, outcome="expired")
    session.execute(_OPEN_ASSIGNMENT, params)
    session.execute(MARK_DUE_DELIVERED, params)


def end_delivery(
    session: Session,
    *,
    campaign_id: int,
    campaign_name: str,
    record_id: int,
    agent_id: int | None,
    kind: str,
    code: str | None,
    note: str,
    now: datetime,
    outcome: str,
    history_code: str | None = None,
    edits: dict[str, Any] | None = None,
) -> None:
    """The end of a delivery: its interaction written (``kind``, ``code``, ``note`` and
    ``edits``), and its row of the history closed with ``outcome`` (and ``history_code``).
    One statement on PostgreSQL."""
    params = end_params(
        campaign_id=campaign_id,
        campaign_name=campaign_name,
        record_id=record_id,
        agent_id=agent_id,
        kind=kind,
        code=code,
        note=note,
        now=now,
        outcome=outcome,
        history_code=history_code,
        edits=edits,
    )
    send_end(session, params)


def send_end(session: Session, params: dict[str, Any]) -> None:
    """:func:`end_delivery`'s statements, with :func:`end_params`'s parameters."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_END_DELIVERY_POSTGRESQL, params)
        return
    session.execute(_END_INTERACTION, params)
    session.execute(_CLOSE_ASSIGNMENT, params)


def end_params(
    *,
    campaign_id: int,
    campaign_name: str,
    record_id: int,
    agent_id: int | None,
    kind: str,
    code: str | None,
    note: str,
    now: datetime,
    outcome: str,
    history_code: str | None = None,
    edits: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The parameters of :func:`end_delivery`'s statements (and of
    :data:`END_DELIVERY_CTES`)."""
    return {
        "campaign": campaign_id,
        "name": campaign_name,
        "record": record_id,
        "agent": agent_id,
        "interaction_kind": kind,
        "interaction_code": code,
        "note_text": note,
        "edits_doc": edits,
        "now": now,
        "history_outcome": outcome,
        "history_code": history_code,
    }


def close_assignment(
    session: Session,
    campaign_id: int,
    record_id: int,
    *,
    now: datetime,
    outcome: str,
    code: str | None = None,
) -> None:
    session.execute(
        _CLOSE_ASSIGNMENT,
        {
            "campaign": campaign_id,
            "record": record_id,
            "now": now,
            "history_outcome": outcome,
            "history_code": code,
        },
    )
