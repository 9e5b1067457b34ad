"""The owner plan: the set of leads an owner change applies to, with their current and
new owner, in a temporary table ``owner_plan(record_id, old_owner_id, new_owner_id)``.

A plan is filled by one ``INSERT … SELECT`` over the selected records (locked ``FOR
UPDATE`` on PostgreSQL; the writer lock covers SQLite). The audit rows, the update of
``records`` and the removal of stale hopper entries are then three statements over that
plan, so they agree with each other whatever other transactions do, and a request that
fails leaves nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import column, table

from callhopper.domain.actors import Actor
from callhopper.domain.lead_owners import PlannedOwner
from callhopper.domain.records import OWNER_ACTION
from callhopper.store.models import AuditEntry, HopperEntry, Record, User
from callhopper.store.types import UTCDateTime

PLAN = table(
    "owner_plan",
    column("record_id", BigInteger()),
    column("old_owner_id", Integer()),
    column("new_owner_id", Integer()),
)
_PLAN_AGENTS = table("owner_plan_agents", column("idx", Integer()), column("user_pk", Integer()))
#: The planned leads whose owner changes.
CHANGED = PLAN.c.old_owner_id.is_distinct_from(PLAN.c.new_owner_id)


def per_agent(session: Session, agent_ids: Sequence[int]) -> dict[str, int]:
    counts: dict[int | None, int] = dict(
        session.execute(
            select(PLAN.c.new_owner_id, func.count()).group_by(PLAN.c.new_owner_id)
        ).all()
    )
    names = dict(
        session.execute(select(User.id, User.user_id).where(User.id.in_(list(agent_ids)))).all()
    )
    return {names[a]: int(counts.get(a, 0)) for a in agent_ids}


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def create_plan(session: Session, agent_ids: list[int] | None) -> None:
    """Empty plan tables for this transaction (PostgreSQL drops them at commit)."""
    pg = is_postgres(session)
    on_commit = " ON COMMIT DROP" if pg else ""
    session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS owner_plan (record_id "
            f"{'BIGINT' if pg else 'INTEGER'} PRIMARY KEY, old_owner_id INTEGER, "
            f"new_owner_id INTEGER){on_commit}"
        )
    )
    session.execute(delete(PLAN))
    if agent_ids is not None:
        session.execute(
            text(
                "CREATE TEMP TABLE IF NOT EXISTS owner_plan_agents "
                f"(idx INTEGER PRIMARY KEY, user_pk INTEGER NOT NULL){on_commit}"
            )
        )
        session.execute(delete(_PLAN_AGENTS))
        session.execute(
            insert(_PLAN_AGENTS), [{"idx": i, "user_pk": a} for i, a in enumerate(agent_ids)]
        )


def drop_plan(session: Session) -> None:
    schema = "pg_temp" if is_postgres(session) else "temp"
    session.execute(text(f"DROP TABLE IF EXISTS {schema}.owner_plan"))
    session.execute(text(f"DROP TABLE IF EXISTS {schema}.owner_plan_agents"))


def fill_plan(
    session: Session,
    selection: ColumnElement[bool],
    target: int | list[int] | None,
    *,
    lock: bool,
) -> None:
    """Write the selected leads with their current and new owner into the plan.

    ``target`` is the new owner's key, ``None`` to clear, or agents' keys to distribute
    over: the n-th lead in record-id order goes to agent ``n mod len(agents)``.
    """
    chosen = select(Record.id.label("record_id"), Record.owner_id.label("old_owner_id")).where(
        selection
    )
    if lock and is_postgres(session):
        # Lock the leads so that nobody changes their owner between plan and update.
        chosen = chosen.with_for_update(of=Record)
    source: Select[Any]
    if isinstance(target, list):
        leads = chosen.subquery("leads")
        # Each lead's slot in the round robin (row numbers start at 1).
        ranked = select(
            leads.c.record_id,
            leads.c.old_owner_id,
            ((func.row_number().over(order_by=leads.c.record_id) - 1) % len(target)).label("slot"),
        ).subquery("ranked")
        source = select(ranked.c.record_id, ranked.c.old_owner_id, _PLAN_AGENTS.c.user_pk).join(
            _PLAN_AGENTS, _PLAN_AGENTS.c.idx == ranked.c.slot
        )
    else:
        source = chosen.add_columns(literal(target, Integer()).label("new_owner_id"))
    session.execute(insert(PLAN).from_select(["record_id", "old_owner_id", "new_owner_id"], source))


def plan_counts(session: Session) -> tuple[int, int]:
    """Leads in the plan, and how many of them change owner."""
    matched, changed = session.execute(
        select(func.count(), func.coalesce(func.sum(case((CHANGED, 1), else_=0)), 0)).select_from(
            PLAN
        )
    ).one()
    return int(matched), int(changed)


def plan_sample(session: Session, limit: int) -> list[PlannedOwner]:
    """The first ``limit`` planned leads whose owner changes, by record id, with the user
    ids of their current and new owner."""
    old_owner = aliased(User, name="old_owner")
    new_owner = aliased(User, name="new_owner")
    rows = session.execute(
        select(PLAN.c.record_id, old_owner.user_id, new_owner.user_id)
        .select_from(PLAN)
        .outerjoin(old_owner, old_owner.id == PLAN.c.old_owner_id)
        .outerjoin(new_owner, new_owner.id == PLAN.c.new_owner_id)
        .where(CHANGED)
        .order_by(PLAN.c.record_id)
        .limit(limit)
    ).all()
    return [PlannedOwner(int(r), old, new) for r, old, new in rows]


def apply_plan(session: Session, actor: Actor, *, reason: str, now: datetime) -> None:
    """Audit, then change, every lead of the plan whose owner changes; drop the hopper
    entries staged for their old owner (the next hopper load re-enters them)."""
    json_object = func.jsonb_build_object if is_postgres(session) else func.json_object
    key: ColumnElement[str] = literal_column("'owner_user_id'")
    old_owner = aliased(User, name="old_owner")
    new_owner = aliased(User, name="new_owner")
    entries = (
        select(
            literal(now, UTCDateTime()),
            literal(actor.id, Integer()),
            literal(actor.user_id, String()),
            literal(OWNER_ACTION, String()),
            literal("record", String()),
            cast(PLAN.c.record_id, String()),
            json_object(key, old_owner.user_id),
            json_object(key, new_owner.user_id),
            literal(reason, String()),
        )
        .select_from(PLAN)
        .outerjoin(old_owner, old_owner.id == PLAN.c.old_owner_id)
        .outerjoin(new_owner, new_owner.id == PLAN.c.new_owner_id)
        .where(CHANGED)
        .order_by(PLAN.c.record_id)
    )
    session.execute(
        insert(AuditEntry).from_select(
            [
                "at",
                "actor_id",
                "actor",
                "action",
                "target_type",
                "target_id",
                "before",
                "after",
                "reason",
            ],
            entries,
        )
    )
    session.execute(
        update(Record)
        .where(Record.id == PLAN.c.record_id, CHANGED)
        .values(owner_id=PLAN.c.new_owner_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(HopperEntry)
        .where(HopperEntry.record_id.in_(select(PLAN.c.record_id).where(CHANGED)))
        .execution_options(synchronize_session=False)
    )
