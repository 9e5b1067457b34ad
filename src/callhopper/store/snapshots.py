"""The snapshot store (:class:`callhopper.ports.snapshots.SnapshotStore`): a campaign's view
of its list's records, rebuilt set-based at a start or a recycle and extended by appends.

Owner values are resolved once per distinct value in Python (the owner directory), then
joined with the records in one statement; every other step is one statement over the
campaign's records.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    column,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    table,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from callhopper.domain.campaign_values import Campaign
from callhopper.domain.contacts import ListSchema
from callhopper.domain.ownership import Agent, OwnerDirectory
from callhopper.domain.records import OPEN_CALLBACK_STATUSES, CallbackKind, CallbackStatus
from callhopper.domain.records import RecordStatus as S
from callhopper.store.campaigns import campaign_of
from callhopper.store.dispensing import clear_out
from callhopper.store.models import (
    Assignment,
    Callback,
    CampaignAgent,
    CampaignRecord,
    ContactList,
    QueueMember,
    Record,
    RecordOwnership,
    User,
)
from callhopper.store.models import Campaign as CampaignRow
from callhopper.store.record_order import sort_terms
from callhopper.store.records import IMPORT_UPDATES
from callhopper.store.snapshot_ranks import (
    forget_ranks,
    kept_ranks,
    placed_ranks,
    start_ranks,
)


class SqlSnapshotStore:
    """Snapshots in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def take(self, campaign: Campaign, *, now: datetime) -> tuple[str, ...]:
        take_snapshot(self.session, campaign, now=now)
        return zones_of(self.session, campaign.id)

    def absorb_import(self, list_id: int, import_id: int, *, now: datetime) -> None:
        for row in self.session.scalars(
            select(CampaignRow).where(CampaignRow.list_id == list_id, CampaignRow.pass_no > 0)
        ):
            take_snapshot(self.session, campaign_of(row), now=now, import_id=import_id)
            row.zones = list(zones_of(self.session, row.id))

    def absorb_edit(self, record_id: int, *, now: datetime) -> None:
        for row in self.session.scalars(
            select(CampaignRow)
            .join(CampaignRecord, CampaignRecord.campaign_id == CampaignRow.id)
            .where(
                CampaignRecord.record_id == record_id,
                CampaignRecord.status == S.ERROR,
                CampaignRow.pass_no > 0,
            )
        ):
            take_snapshot(self.session, campaign_of(row), now=now, record_id=record_id)
            row.zones = list(zones_of(self.session, row.id))
        self.session.flush()

    def follow_record_zone(self, record_id: int, tz: str | None) -> None:
        self.session.execute(
            update(CampaignRecord).where(CampaignRecord.record_id == record_id).values(tz=tz)
        )
        for row in self.session.scalars(
            select(CampaignRow)
            .join(CampaignRecord, CampaignRecord.campaign_id == CampaignRow.id)
            .where(CampaignRecord.record_id == record_id)
        ):
            if tz not in row.zones:
                row.zones = list(zones_of(self.session, row.id))

    def follow_list_zones(self, list_id: int) -> None:
        updated = table(IMPORT_UPDATES, column("record_id", BigInteger()))
        record_tz = select(Record.tz).where(Record.id == CampaignRecord.record_id).scalar_subquery()
        self.session.execute(
            update(CampaignRecord)
            .where(
                CampaignRecord.record_id.in_(select(updated.c.record_id)),
                CampaignRecord.tz.is_distinct_from(record_tz),
            )
            .values(tz=record_tz)
            .execution_options(synchronize_session=False)
        )
        for row in self.session.scalars(select(CampaignRow).where(CampaignRow.list_id == list_id)):
            row.zones = list(zones_of(self.session, row.id))


def zones_of(session: Session, campaign_id: int) -> tuple[str, ...]:
    """The time zones the campaign's contacts live in."""
    return tuple(
        sorted(
            z
            for z in session.scalars(
                select(CampaignRecord.tz)
                .where(CampaignRecord.campaign_id == campaign_id)
                .distinct()
            )
            if z is not None
        )
    )


def _schema(session: Session, list_id: int) -> ListSchema:
    contact_list = session.get(ContactList, list_id)
    assert contact_list is not None  # a campaign's list cannot be deleted
    return ListSchema.model_validate(contact_list.schema)


def _owner_map(
    session: Session, campaign: Campaign, column: str, members: set[int]
) -> list[dict[str, Any]]:
    """Resolve every distinct owner value of the list once, in Python."""
    users = [
        Agent(id=u.id, user_id=u.user_id, email_key=u.email_key, active=u.active)
        for u in session.scalars(select(User))
    ]
    directory = OwnerDirectory(users, members)
    first = campaign.owner_order.first()
    values = session.scalars(
        select(func.coalesce(Record.data[column].as_string(), literal("")))
        .where(Record.list_id == campaign.list_id)
        .distinct()
    )
    mapping = []
    for value in values:
        resolved = directory.resolve(value)
        mapping.append(
            {
                "value": value,
                "agent_id": resolved.agent_id,
                "error": resolved.error.value if resolved.error is not None else None,
                "kind_rank": 0 if resolved.kind in (first, None) else 1,
            }
        )
    return mapping


def _owner_map_columns() -> tuple[Any, ...]:
    return (
        column("value", String()),
        column("agent_id", Integer()),
        column("error", String()),
        column("kind_rank", Integer()),
    )


def _mapping_rows(session: Session, mapping: list[dict[str, Any]]) -> Any:
    """The owner map as a table ``m(value, agent_id, error, kind_rank)`` to join records with.

    PostgreSQL reads it from one JSON parameter (and hash-joins it). SQLite gets a
    temporary table keyed by value, so that each record probes it by key instead of
    scanning it (SQLite would nest-loop over a JSON table).
    """
    if session.get_bind().dialect.name == "postgresql":
        payload = bindparam("owner_map", json.dumps(mapping), type_=String())
        return (
            func.jsonb_to_recordset(cast(payload, JSONB()))
            .table_valued(*_owner_map_columns())
            .render_derived(name="m", with_types=True)
        )
    session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS owner_map (value TEXT PRIMARY KEY, "
            "agent_id INTEGER, error TEXT, kind_rank INTEGER)"
        )
    )
    session.execute(text("DELETE FROM temp.owner_map"))
    if mapping:
        session.execute(
            text(
                "INSERT INTO temp.owner_map (value, agent_id, error, kind_rank) "
                "VALUES (:value, :agent_id, :error, :kind_rank)"
            ),
            mapping,
        )
    return table("owner_map", *_owner_map_columns(), schema="temp").alias("m")


def take_snapshot(
    session: Session,
    campaign: Campaign,
    *,
    now: datetime,
    import_id: int | None = None,
    record_id: int | None = None,
) -> None:
    """Take the owner and queue snapshots and (re)build the campaign's view of its records.

    With ``import_id`` only that import's records are added (an append into a
    started campaign), each in its sorted place among the records already there
    (:func:`~callhopper.store.snapshot_ranks.placed_ranks`), and resolved against the
    queue snapshot already taken; with ``record_id``, likewise that one record (an edit).
    Otherwise (start, recycle) the queue snapshot
    is taken anew, every record is re-resolved and re-ranked, non-final records
    start the pass again, and leases stay with agents who still own the record.
    """
    # No key from campaign_records to campaigns (migration 0028): hold the campaign's row
    # instead, so that a deletion waits for the rows added here and removes them.
    if (
        session.scalar(
            select(CampaignRow.id)
            .where(CampaignRow.id == campaign.id)
            .with_for_update(key_share=True)
        )
        is None
    ):
        return
    partial = import_id is not None or record_id is not None
    if not partial:
        if session.get_bind().dialect.name == "postgresql":
            _tune_start_transaction(session)
        members = set(
            session.scalars(
                select(QueueMember.user_id).where(QueueMember.queue_id == campaign.queue_id)
            )
        )
        session.execute(delete(CampaignAgent).where(CampaignAgent.campaign_id == campaign.id))
        if members:
            session.execute(
                insert(CampaignAgent),
                [{"campaign_id": campaign.id, "user_id": m} for m in sorted(members)],
            )
    else:
        members = set(
            session.scalars(
                select(CampaignAgent.user_id).where(CampaignAgent.campaign_id == campaign.id)
            )
        )
    column = campaign.agent_owned_column
    order_terms = sort_terms(_schema(session, campaign.list_id), campaign.sort)
    source = select(Record.id.label("record_id"), Record.tz.label("tz")).where(
        Record.list_id == campaign.list_id
    )
    if column is not None:
        m = _mapping_rows(session, _owner_map(session, campaign, column, members))
        owner_value = func.coalesce(Record.data[column].as_string(), literal(""))
        source = source.add_columns(m.c.agent_id, m.c.error).join(m, m.c.value == owner_value)
        order_terms = [m.c.kind_rank, *order_terms]
    else:
        source = source.add_columns(
            cast(null(), Integer()).label("agent_id"), cast(null(), String()).label("error")
        )
    if import_id is not None:
        ranked = placed_ranks(
            session, campaign.id, source, order_terms, Record.import_id == import_id
        )
    elif record_id is not None:
        ranked = placed_ranks(session, campaign.id, source, order_terms, Record.id == record_id)
    else:
        ranked = start_ranks(source, order_terms)
    first = not partial and not session.scalar(
        select(CampaignRecord.record_id).where(CampaignRecord.campaign_id == campaign.id).limit(1)
    )
    if first:
        # A first start: nothing to merge with, every record is inserted.
        _insert_missing(session, campaign, ranked, first=True)
    else:
        if not partial:
            ranked = kept_ranks(session, ranked)
        _merge_snapshot(session, campaign, ranked, now=now, errors_only=partial)
        if not partial:
            forget_ranks(session)
    set_aside_owned_elsewhere(session, campaign.id, now=now)
    if not partial and session.get_bind().dialect.name == "postgresql":
        # A start can add a million rows at once; claims planned on the statistics from
        # before them would sort every ready record instead of walking the claim index.
        session.execute(text("ANALYZE campaign_records"))


#: PostgreSQL ``work_mem`` of a start's or a recycle's transaction: ranking a million records
#: sorts about 100 MB; at the default 4 MB the sort spills to disk.
SNAPSHOT_WORK_MEM_MB = 256


def _tune_start_transaction(session: Session) -> None:
    """PostgreSQL settings for the rest of a start's or a recycle's transaction: memory to
    sort the list in, and no JIT (its compiling costs more than it saves on statements
    that each run once)."""
    session.execute(
        text("SELECT set_config('work_mem', :work_mem, true), set_config('jit', 'off', true)"),
        {"work_mem": f"{SNAPSHOT_WORK_MEM_MB}MB"},
    )


def set_aside_owned_elsewhere(session: Session, campaign_id: int, *, now: datetime) -> None:
    """Records another campaign owns are ``blocked`` here until that ends."""
    cr = CampaignRecord
    o = RecordOwnership
    elsewhere = and_(
        o.record_id == cr.record_id,
        o.campaign_id != campaign_id,
        o.released_at.is_(None),
        or_(o.expires_at.is_(None), o.expires_at > now),
    )
    session.execute(
        update(cr)
        .where(
            cr.campaign_id == campaign_id,
            cr.status.in_((S.READY, S.WAITING)),
            select(o.id).where(elsewhere).exists(),
        )
        .values(
            status=S.BLOCKED,
            retry_at=None,
            blocked_until=select(o.expires_at).where(elsewhere).scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    )


def _merge_snapshot(
    session: Session, campaign: Campaign, snap: Any, *, now: datetime, errors_only: bool
) -> None:
    """Apply a snapshot: update the records the campaign has, insert the ones it lacks.

    ``errors_only`` (an append into a running campaign) leaves alone every record that
    was deliverable: only the undeliverable ones are re-resolved, so an append can fix an
    invalid owner at once while a changed valid owner waits for the recycle.
    """
    cr = CampaignRecord
    if errors_only:
        session.execute(
            update(cr)
            .where(
                cr.campaign_id == campaign.id,
                cr.record_id == snap.c.record_id,
                cr.status == S.ERROR,
            )
            .values(
                status=case((snap.c.error.is_not(None), S.ERROR.value), else_=S.READY.value),
                agent_id=snap.c.agent_id,
                error=snap.c.error,
                rank=snap.c.rank,
                tz=snap.c.tz,
            )
            .execution_options(synchronize_session=False)
        )
        _insert_missing(session, campaign, snap)
        return
    # Leases whose agent no longer owns the record go back (they are not the agent's now).
    revoked = (
        select(cr.record_id)
        .join(snap, snap.c.record_id == cr.record_id)
        .where(
            cr.campaign_id == campaign.id,
            cr.status == S.LEASED,
            # An owner value that names nobody (agent_id NULL, with an error) revokes too;
            # only a campaign without owners (no agent_id and no error) keeps every lease.
            snap.c.error.is_not(None)
            | (snap.c.agent_id.is_not(None) & (snap.c.agent_id != cr.lease_agent_id)),
        )
    )
    revoked_ids = list(session.scalars(revoked))
    if revoked_ids:
        clear_out(session, campaign.id, revoked_ids)
        session.execute(
            update(Assignment)
            .where(
                Assignment.campaign_id == campaign.id,
                Assignment.record_id.in_(revoked_ids),
                Assignment.released_at.is_(None),
            )
            .values(released_at=now, outcome="recycled")
        )
    keep_lease = and_(
        cr.status == S.LEASED, cr.record_id.not_in(revoked_ids) if revoked_ids else true()
    )
    # A record waiting for a scheduled callback keeps waiting for it: the pass restarts,
    # the appointment stands.
    keep_waiting = and_(
        cr.status == S.WAITING,
        select(Callback.id)
        .where(
            Callback.campaign_id == cr.campaign_id,
            Callback.record_id == cr.record_id,
            Callback.status == CallbackStatus.SCHEDULED,
        )
        .exists(),
    )
    new_status = case(
        (cr.status == S.FINAL, S.FINAL.value),
        (keep_lease, S.LEASED.value),
        (snap.c.error.is_not(None), S.ERROR.value),
        (keep_waiting, S.WAITING.value),
        else_=S.READY.value,
    )
    session.execute(
        update(cr)
        .where(cr.campaign_id == campaign.id, cr.record_id == snap.c.record_id)
        .values(
            status=new_status,
            agent_id=snap.c.agent_id,
            error=case((cr.status == S.FINAL, None), (keep_lease, None), else_=snap.c.error),
            rank=snap.c.rank,
            tz=snap.c.tz,
            retry_at=case(
                (cr.status == S.FINAL, cr.retry_at),
                (and_(keep_waiting, snap.c.error.is_(None)), cr.retry_at),
                else_=None,
            ),
            # A personal callback reserved for the record's owner follows a new owner.
            reserved_for=case(
                (and_(cr.reserved_for.is_not(None), snap.c.agent_id.is_not(None)), snap.c.agent_id),
                else_=cr.reserved_for,
            ),
            lease_agent_id=case((keep_lease, cr.lease_agent_id), else_=None),
            lease_expires_at=case((keep_lease, cr.lease_expires_at), else_=None),
            # A wrap-up chosen on a lease that goes back is not the next agent's to see.
            pending=case((keep_lease, cr.pending), else_=None),
            # No record leaves here blocked: those another campaign still owns are set
            # aside again by the caller (set_aside_owned_elsewhere), with their new end.
            blocked_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    reservation = (
        select(cr.reserved_for)
        .where(
            cr.campaign_id == Callback.campaign_id,
            cr.record_id == Callback.record_id,
            cr.reserved_for.is_not(None),
        )
        .scalar_subquery()
    )
    session.execute(
        update(Callback)
        .where(
            Callback.campaign_id == campaign.id,
            Callback.kind == CallbackKind.PERSONAL,
            Callback.status.in_(sorted(OPEN_CALLBACK_STATUSES)),
            reservation.is_not(None),
            Callback.agent_id != reservation,
        )
        .values(agent_id=reservation)
        .execution_options(synchronize_session=False)
    )
    _insert_missing(session, campaign, snap)


def _insert_missing(
    session: Session, campaign: Campaign, snap: Any, *, first: bool = False
) -> None:
    """Insert the records of ``snap`` the campaign lacks (``first``: it has none)."""
    cr = CampaignRecord
    missing = select(
        literal(campaign.id),
        snap.c.record_id,
        case((snap.c.error.is_not(None), S.ERROR.value), else_=S.READY.value),
        snap.c.agent_id,
        snap.c.error,
        snap.c.rank,
        snap.c.tz,
        literal(0),
    )
    if not first:
        missing = missing.where(
            ~select(cr.record_id)
            .where(cr.campaign_id == campaign.id, cr.record_id == snap.c.record_id)
            .exists()
        )
    # In the order of the primary key and of ix_campaign_records_record: each row then goes
    # next to the one before it in both indexes, instead of to a page of its own (a third
    # of a start's time on PostgreSQL).
    missing = missing.order_by(snap.c.record_id)
    session.execute(
        insert(cr).from_select(
            ["campaign_id", "record_id", "status", "agent_id", "error", "rank", "tz", "attempts"],
            missing,
        )
    )
