"""Where a campaign's records stand in its order (``campaign_records.rank``).

A start or a recycle ranks every record of the list in the campaign's order, leaving
:data:`RANK_GAP` between neighbours. Records appended (or fixed) while the campaign runs
take their sorted place among the records already ranked, as if they had been there at the
start: each goes between the ranks of its neighbours in the campaign's order, set-based, in
one statement over the list. Ranks moved since the start (a record sent back on top or to
the back) stay where they are. When two neighbours have no room left between them, the
campaign's ranks are spaced out again, keeping their order, and the placement is redone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    column,
    func,
    insert,
    literal,
    select,
    table,
    text,
    update,
)
from sqlalchemy.orm import Session

from callhopper.domain.records import RecordStatus as S
from callhopper.store.models import CampaignRecord, Record

#: The room left between two neighbours' ranks at a start: the records that can be placed
#: between them before the campaign's ranks are spaced out again.
RANK_GAP = 1 << 20


def start_ranks(source: Any, order_terms: list[Any]) -> Any:
    """Every record of ``source`` ranked in the campaign's order, :data:`RANK_GAP` apart."""
    position = func.row_number().over(order_by=[*order_terms, Record.id])
    return source.add_columns((position * RANK_GAP).label("rank")).subquery("snap")


def kept_ranks(session: Session, ranked: Any) -> Any:
    """``ranked`` (of :func:`start_ranks`) computed once, for a recycle's statements that
    each read it: else each would sort the list again."""
    c = ranked.c
    _keep(
        session,
        select(
            c.record_id, c.tz, c.agent_id, c.error, c.rank, literal(False).label("crowded")
        ).subquery("snap"),
    )
    return _PLACED.alias("snap")


def forget_ranks(session: Session) -> None:
    """Empty what :func:`kept_ranks` kept: a recycle leaves a row per record of the list,
    which the connection would otherwise hold until its next snapshot."""
    _empty(session)


def placed_ranks(
    session: Session,
    campaign_id: int,
    source: Any,
    order_terms: list[Any],
    placed: ColumnElement[bool],
) -> Any:
    """The records of ``source`` that ``placed`` selects (new in the campaign, or undeliverable
    and being fixed), each with the rank of its sorted place among the others; ``source``
    holds the whole list, so that the others can be compared with them."""
    _keep(session, _placed(campaign_id, source, order_terms, placed))
    if session.scalar(select(func.count()).select_from(_PLACED).where(_PLACED.c.crowded)):
        _space_out(session, campaign_id)
        _keep(session, _placed(campaign_id, source, order_terms, placed))
    return _PLACED.alias("snap")


#: The placement, computed once per append and read by the statements that apply it: a
#: temporary table of the connection, emptied before each use.
_PLACED = table(
    "placed_ranks",
    column("record_id", BigInteger()),
    column("tz", String()),
    column("agent_id", Integer()),
    column("error", String()),
    column("rank", BigInteger()),
    column("crowded", Boolean()),
)


def _keep(session: Session, placement: Any) -> None:
    session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS placed_ranks (record_id BIGINT, tz TEXT, "
            "agent_id INTEGER, error TEXT, rank BIGINT, crowded BOOLEAN)"
        )
    )
    _empty(session)
    names = ["record_id", "tz", "agent_id", "error", "rank", "crowded"]
    # Kept in the order of the record ids, the order a start wrote the campaign's rows in:
    # a recycle's update joined with it then walks the rows and their primary key in order
    # instead of a page at random per row (PostgreSQL reads the table in the order written).
    session.execute(
        insert(_PLACED).from_select(names, select(placement).order_by(placement.c.record_id))
    )


def _empty(session: Session) -> None:
    # A recycle keeps a million rows here; TRUNCATE drops them at once (PostgreSQL).
    empty = "TRUNCATE" if session.get_bind().dialect.name == "postgresql" else "DELETE FROM"
    session.execute(text(f"{empty} placed_ranks"))


def _placed(
    campaign_id: int, source: Any, order_terms: list[Any], placed: ColumnElement[bool]
) -> Any:
    """Window functions only, so that each level is one pass (or sort) over the list."""
    cr = CampaignRecord
    is_placed = and_(placed, (cr.rank.is_(None)) | (cr.status == S.ERROR))
    known = case((is_placed, None), else_=cr.rank)
    in_order = [*order_terms, Record.id]
    ordered = (
        source.add_columns(
            case((is_placed, 1), else_=0).label("placing"),
            known.label("known"),
            func.row_number().over(order_by=in_order).label("pos"),
            # How many ranked records come up to this one in the campaign's order, and in
            # all: a record being placed shares ``before`` with the ranked record just
            # before it, and the count from the end with the one just after it.
            func.count(known).over(order_by=in_order).label("before"),
            func.count(known).over().label("ranked"),
        )
        .outerjoin(cr, and_(cr.campaign_id == campaign_id, cr.record_id == Record.id))
        .subquery("ordered")
    )
    c = ordered.c
    after = c.ranked - c.before + case((c.known.is_(None), 0), else_=1)
    bounded = select(
        c.record_id,
        c.tz,
        c.agent_id,
        c.error,
        c.placing,
        func.max(c.known).over(partition_by=c.before).label("prev"),
        func.max(c.known).over(partition_by=after).label("next"),
        func.sum(c.placing).over(partition_by=c.before, order_by=c.pos).label("k"),
        func.sum(c.placing).over(partition_by=c.before).label("m"),
    ).subquery("bounded")
    t = bounded.c
    rank = case(
        (and_(t.prev.is_(None), t.next.is_(None)), t.k * RANK_GAP),
        (t.prev.is_(None), t.next - (t.m + 1 - t.k)),
        (t.next.is_(None), t.prev + t.k),
        else_=t.prev + (t.next - t.prev) * t.k // (t.m + 1),
    )
    crowded = and_(t.prev.is_not(None), t.next.is_not(None), t.next - t.prev <= t.m)
    return (
        select(
            t.record_id,
            t.tz,
            t.agent_id,
            t.error,
            rank.label("rank"),
            case((crowded, literal(True)), else_=literal(False)).label("crowded"),
        )
        .where(t.placing == 1)
        .subquery("snap")
    )


def _space_out(session: Session, campaign_id: int) -> None:
    """Give the campaign's ranks :data:`RANK_GAP` of room again, in the order they are."""
    cr = CampaignRecord
    spaced = (
        select(
            cr.record_id,
            (func.row_number().over(order_by=[cr.rank, cr.record_id]) * RANK_GAP).label("rank"),
        )
        .where(cr.campaign_id == campaign_id)
        .subquery("spaced")
    )
    session.execute(
        update(cr)
        .where(cr.campaign_id == campaign_id, cr.record_id == spaced.c.record_id)
        .values(rank=spaced.c.rank)
        .execution_options(synchronize_session=False)
    )
