"""Campaigns: definition, life cycle, snapshots, progress and the error monitor (SPEC §4, §5)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
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

from callhopper.domain.actors import Actor
from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaigns import (
    SUPPORTED_MODES,
    CampaignAction,
    CampaignSettings,
    CampaignState,
    DialingMode,
    SortKey,
    check_sort,
    sort_is_numeric,
    transition,
)
from callhopper.domain.contacts import ListSchema
from callhopper.domain.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from callhopper.domain.filters import NUMERIC_PATTERN
from callhopper.domain.ownership import Agent, OwnerDirectory, OwnerError, OwnerOrder
from callhopper.store.audit import audit
from callhopper.store.contact_lists import get_list, schema_of
from callhopper.store.filters_sql import code_point_order
from callhopper.store.models import (
    Assignment,
    Callback,
    Campaign,
    CampaignAgent,
    CampaignRecord,
    HopperEntry,
    QueueMember,
    Record,
    RecordOwnership,
    User,
)
from callhopper.store.queues import get_queue
from callhopper.store.wrapup import get_set

ACTIVE_STATES = (CampaignState.ON.value, CampaignState.STOPPING.value)


@dataclass(frozen=True)
class CampaignSpec:
    """What defines a campaign when it is created."""

    name: str
    description: str
    list_id: int
    queue_id: int
    wrapup_set_id: int
    mode: DialingMode
    agent_owned_column: str | None
    owner_order: OwnerOrder
    sort: tuple[SortKey, ...]
    calling_window: CallingWindow
    settings: CampaignSettings
    enforce_lead_ownership: bool = False


def get_campaign(session: Session, campaign_id: int, *, lock: bool = False) -> Campaign:
    query = select(Campaign).where(Campaign.id == campaign_id)
    if lock:
        query = query.with_for_update()
    campaign = session.scalar(query)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}", field="campaign_id")
    return campaign


def list_campaigns(session: Session) -> Sequence[Campaign]:
    return session.scalars(select(Campaign).order_by(Campaign.id)).all()


def window_of(campaign: Campaign) -> CallingWindow:
    return CallingWindow.model_validate(campaign.calling_window)


def settings_of(campaign: Campaign) -> CampaignSettings:
    return CampaignSettings.model_validate(campaign.settings)


def sort_of(campaign: Campaign) -> tuple[SortKey, ...]:
    return tuple(SortKey.model_validate(k) for k in campaign.sort)


def campaign_view(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "description": campaign.description,
        "list_id": campaign.list_id,
        "queue_id": campaign.queue_id,
        "wrapup_set_id": campaign.wrapup_set_id,
        "mode": campaign.mode,
        "state": campaign.state,
        "agent_owned_column": campaign.agent_owned_column,
        "enforce_lead_ownership": campaign.enforce_lead_ownership,
        "owner_order": campaign.owner_order,
        "sort": campaign.sort,
        "calling_window": campaign.calling_window,
        "settings": campaign.settings,
        "pass_no": campaign.pass_no,
    }


def _check_name(session: Session, name: str, campaign_id: int | None = None) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput("the name is empty", field="name")
    other = session.scalar(select(Campaign.id).where(Campaign.name == name))
    if other is not None and other != campaign_id:
        raise AlreadyExists(f"a campaign named {name!r} already exists", field="name")
    return name


def _check_agent_owned(schema: ListSchema, mode: DialingMode, column: str | None) -> None:
    if column is None:
        return
    if not mode.is_preview_type:
        raise InvalidInput(
            f"agent-owned records need a preview-type mode, not {mode.value}",
            field="agent_owned_column",
        )
    if schema.agent_owned_column is None:
        raise InvalidInput("the contact list has no agent-owned column", field="agent_owned_column")
    if column != schema.agent_owned_column:
        raise InvalidInput(
            f"the contact list's agent-owned column is {schema.agent_owned_column!r}, "
            f"not {column!r}",
            field="agent_owned_column",
        )


def create_campaign(
    session: Session, actor: Actor, spec: CampaignSpec, *, now: datetime
) -> Campaign:
    name = _check_name(session, spec.name)
    schema = schema_of(get_list(session, spec.list_id))
    _check_agent_owned(schema, spec.mode, spec.agent_owned_column)
    if spec.enforce_lead_ownership:
        if not spec.mode.is_preview_type:
            raise InvalidInput(
                f"lead ownership needs a preview-type mode, not {spec.mode.value}",
                field="enforce_lead_ownership",
            )
        if spec.agent_owned_column is not None:
            raise InvalidInput(
                "a campaign delivers by lead owners or by an agent-owned column, not both",
                field="enforce_lead_ownership",
            )
    if spec.mode not in SUPPORTED_MODES:
        raise InvalidInput(
            f"dialing mode {spec.mode.value!r} is not available in this version; "
            f"available: {', '.join(sorted(m.value for m in SUPPORTED_MODES))}",
            field="mode",
        )
    get_queue(session, spec.queue_id)
    get_set(session, spec.wrapup_set_id)
    check_sort(spec.sort, schema, spec.agent_owned_column)
    campaign = Campaign(
        name=name,
        description=spec.description,
        list_id=spec.list_id,
        queue_id=spec.queue_id,
        wrapup_set_id=spec.wrapup_set_id,
        mode=spec.mode.value,
        state=CampaignState.OFF.value,
        agent_owned_column=spec.agent_owned_column,
        enforce_lead_ownership=spec.enforce_lead_ownership,
        owner_order=spec.owner_order.value,
        sort=[k.model_dump() for k in spec.sort],
        calling_window=spec.calling_window.model_dump(mode="json"),
        settings=spec.settings.model_dump(mode="json"),
        pass_no=0,
        created_at=now,
        updated_at=now,
    )
    session.add(campaign)
    session.flush()
    audit(
        session,
        actor,
        "campaign.create",
        "campaign",
        campaign.id,
        now=now,
        after=campaign_view(campaign),
    )
    return campaign


#: Fields fixed once the campaign exists (SPEC §5), with the reason given.
IMMUTABLE = {
    "mode": "the dialing mode",
    "queue_id": "the queue",
    "list_id": "the contact list",
    "agent_owned_column": "the agent-owned column",
    "enforce_lead_ownership": "lead ownership",
}


def update_campaign(
    session: Session, actor: Actor, campaign_id: int, changes: dict[str, Any], *, now: datetime
) -> Campaign:
    """Change what may change; refuse mode, queue, list and agent-owned column by name."""
    campaign = get_campaign(session, campaign_id, lock=True)
    before = campaign_view(campaign)
    for field, label in IMMUTABLE.items():
        if field not in changes:
            continue
        current = getattr(campaign, field)
        wanted = changes[field]
        wanted = wanted.value if isinstance(wanted, DialingMode) else wanted
        if wanted == current:
            continue
        if field == "agent_owned_column" and current is not None and wanted is None:
            raise Conflict(
                "an agent-owned campaign cannot be turned into a non-agent-owned one",
                field=field,
            )
        raise Conflict(f"{label} of a campaign cannot be changed once it exists", field=field)
    schema = schema_of(get_list(session, campaign.list_id))
    if "name" in changes:
        campaign.name = _check_name(session, changes["name"], campaign.id)
    if "description" in changes:
        campaign.description = changes["description"]
    if "wrapup_set_id" in changes:
        campaign.wrapup_set_id = get_set(session, changes["wrapup_set_id"]).id
    if "sort" in changes:
        sort: tuple[SortKey, ...] = tuple(changes["sort"])
        check_sort(sort, schema, campaign.agent_owned_column)
        campaign.sort = [k.model_dump() for k in sort]
    if "owner_order" in changes:
        campaign.owner_order = OwnerOrder(changes["owner_order"]).value
    if "calling_window" in changes:
        campaign.calling_window = changes["calling_window"].model_dump(mode="json")
    if "settings" in changes:
        campaign.settings = changes["settings"].model_dump(mode="json")
    campaign.updated_at = now
    audit(
        session,
        actor,
        "campaign.update",
        "campaign",
        campaign.id,
        now=now,
        before=before,
        after=campaign_view(campaign),
    )
    return campaign


def delete_campaign(session: Session, actor: Actor, campaign_id: int, *, now: datetime) -> None:
    """Delete a campaign that is not running. Its assignment history stays."""
    campaign = get_campaign(session, campaign_id, lock=True)
    if campaign.state in ACTIVE_STATES:
        raise Conflict(
            f"the campaign is {campaign.state}: stop it and let it complete before deleting it",
            state=campaign.state,
        )
    from callhopper.store.ownership import release_campaign

    release_campaign(session, actor, campaign, now=now)
    # The hopper has no key to campaigns (migration 0013). A load adding entries holds the
    # campaign's row until it commits, so the lock above waited for it and this sees them.
    session.execute(delete(HopperEntry).where(HopperEntry.campaign_id == campaign.id))
    audit(
        session,
        actor,
        "campaign.delete",
        "campaign",
        campaign.id,
        now=now,
        before=campaign_view(campaign),
    )
    session.delete(campaign)


# --- life cycle --------------------------------------------------------------------------------


def change_state(
    session: Session, actor: Actor, campaign_id: int, action: CampaignAction, *, now: datetime
) -> Campaign:
    """Start, stop or recycle. The first start and every recycle take the snapshots."""
    campaign = get_campaign(session, campaign_id, lock=True)
    before = campaign_view(campaign)
    after = transition(CampaignState(campaign.state), action)
    if action is CampaignAction.START:
        campaign.started_at = now
        if campaign.pass_no == 0:
            campaign.pass_no = 1
            take_snapshot(session, campaign, now=now)
    elif action is CampaignAction.STOP:
        campaign.stopped_at = now
    elif action is CampaignAction.RECYCLE:
        campaign.pass_no += 1
        campaign.recycled_at = now
        take_snapshot(session, campaign, now=now)
    campaign.state = after.value
    campaign.updated_at = now
    session.flush()
    if after is CampaignState.STOPPING:
        complete_if_drained(session, campaign.id, now=now)
    audit(
        session,
        actor,
        f"campaign.{action.value}",
        "campaign",
        campaign.id,
        now=now,
        before=before,
        after=campaign_view(campaign),
    )
    return campaign


def complete_if_drained(session: Session, campaign_id: int, *, now: datetime) -> bool:
    """A stopping campaign completes once no record is leased (lapsed leases do not count)."""
    busy = (
        select(CampaignRecord.record_id)
        .where(
            CampaignRecord.campaign_id == campaign_id,
            CampaignRecord.status == "leased",
            CampaignRecord.lease_expires_at > now,
        )
        .exists()
    )
    result = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.state == CampaignState.STOPPING.value, ~busy)
        .values(state=CampaignState.COMPLETE.value, completed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- snapshots ---------------------------------------------------------------------------------


def _owner_map(
    session: Session, campaign: Campaign, column: str, members: set[int]
) -> list[dict[str, Any]]:
    """Resolve every distinct owner value of the list once, in Python (SPEC §5 rules)."""
    users = [
        Agent(id=u.id, user_id=u.user_id, email_key=u.email_key, active=u.active)
        for u in session.scalars(select(User))
    ]
    directory = OwnerDirectory(users, members)
    first = OwnerOrder(campaign.owner_order).first()
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


def sort_terms(session: Session, campaign: Campaign) -> list[Any]:
    """ORDER BY terms of the campaign's contact sorting (empty values last), over ``records``;
    callers add the tie-break."""
    schema = schema_of(get_list(session, campaign.list_id))
    terms: list[Any] = []
    for key in sort_of(campaign):
        value: ColumnElement[Any] = Record.data[key.column].as_string()
        if sort_is_numeric(schema, key.column):
            value = case((value.regexp_match(NUMERIC_PATTERN), cast(value, Float)), else_=None)
        else:
            value = code_point_order(value)
        terms.append((value.desc() if key.descending else value.asc()).nulls_last())
    return terms


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
    started campaign), ordered after the existing ones and resolved against the
    queue snapshot already taken; with ``record_id``, likewise that one record (an edit).
    Otherwise (start, recycle) the queue snapshot
    is taken anew, every record is re-resolved and re-ranked, non-final records
    start the pass again, and leases stay with agents who still own the record.
    """
    partial = import_id is not None or record_id is not None
    if not partial:
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
    order_terms = sort_terms(session, campaign)
    source = select(Record.id.label("record_id"), Record.tz.label("tz")).where(
        Record.list_id == campaign.list_id
    )
    if import_id is not None:
        source = source.where(Record.import_id == import_id)
    if record_id is not None:
        source = source.where(Record.id == record_id)
    if column is not None:
        m = _mapping_rows(session, _owner_map(session, campaign, column, members))
        owner_value = func.coalesce(Record.data[column].as_string(), literal(""))
        source = source.add_columns(m.c.agent_id, m.c.error).join(m, m.c.value == owner_value)
        order_terms = [m.c.kind_rank, *order_terms]
    else:
        source = source.add_columns(
            cast(null(), Integer()).label("agent_id"), cast(null(), String()).label("error")
        )
    base_rank = 0
    if partial:
        base_rank = (
            session.scalar(
                select(func.coalesce(func.max(CampaignRecord.rank), 0)).where(
                    CampaignRecord.campaign_id == campaign.id
                )
            )
            or 0
        )
    ranked = source.add_columns(
        (func.row_number().over(order_by=[*order_terms, Record.id]) + base_rank).label("rank")
    ).subquery("snap")
    _merge_snapshot(session, campaign, ranked, now=now, errors_only=partial)
    set_aside_owned_elsewhere(session, campaign.id, now=now)
    refresh_zones(session, campaign)
    if not partial and session.get_bind().dialect.name == "postgresql":
        # A start can add a million rows at once; claims planned on the statistics from
        # before them would sort every ready record instead of walking the claim index.
        session.execute(text("ANALYZE campaign_records"))


def set_aside_owned_elsewhere(session: Session, campaign_id: int, *, now: datetime) -> None:
    """Records another campaign owns (SPEC §6) are ``blocked`` here until that ends."""
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
            cr.status.in_(("ready", "waiting")),
            select(o.id).where(elsewhere).exists(),
        )
        .values(
            status="blocked",
            retry_at=None,
            blocked_until=select(o.expires_at).where(elsewhere).scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    )


def refresh_zones(session: Session, campaign: Campaign) -> None:
    """Record which time zones the campaign's contacts live in."""
    campaign.zones = sorted(
        z
        for z in session.scalars(
            select(CampaignRecord.tz).where(CampaignRecord.campaign_id == campaign.id).distinct()
        )
        if z is not None
    )


def _merge_snapshot(
    session: Session, campaign: Campaign, snap: Any, *, now: datetime, errors_only: bool
) -> None:
    """Apply a snapshot: update the records the campaign has, insert the ones it lacks.

    ``errors_only`` (an append into a running campaign) leaves alone every record that
    was deliverable: only the undeliverable ones are re-resolved, so an append can fix an
    invalid owner at once while a changed valid owner waits for the recycle (SPEC §5).
    """
    cr = CampaignRecord
    if errors_only:
        session.execute(
            update(cr)
            .where(
                cr.campaign_id == campaign.id,
                cr.record_id == snap.c.record_id,
                cr.status == "error",
            )
            .values(
                status=case((snap.c.error.is_not(None), "error"), else_="ready"),
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
            cr.status == "leased",
            # An owner value that names nobody (agent_id NULL, with an error) revokes too;
            # only a campaign without owners (no agent_id and no error) keeps every lease.
            snap.c.error.is_not(None)
            | (snap.c.agent_id.is_not(None) & (snap.c.agent_id != cr.lease_agent_id)),
        )
    )
    revoked_ids = list(session.scalars(revoked))
    if revoked_ids:
        from callhopper.store.dispensing import clear_out

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
        cr.status == "leased", cr.record_id.not_in(revoked_ids) if revoked_ids else true()
    )
    # A record waiting for a scheduled callback keeps waiting for it: the pass restarts,
    # the appointment stands (SPEC §4.2).
    keep_waiting = and_(
        cr.status == "waiting",
        select(Callback.id)
        .where(
            Callback.campaign_id == cr.campaign_id,
            Callback.record_id == cr.record_id,
            Callback.status == "scheduled",
        )
        .exists(),
    )
    new_status = case(
        (cr.status == "final", "final"),
        (keep_lease, "leased"),
        (snap.c.error.is_not(None), "error"),
        (keep_waiting, "waiting"),
        else_="ready",
    )
    session.execute(
        update(cr)
        .where(cr.campaign_id == campaign.id, cr.record_id == snap.c.record_id)
        .values(
            status=new_status,
            agent_id=snap.c.agent_id,
            error=case((cr.status == "final", None), (keep_lease, None), else_=snap.c.error),
            rank=snap.c.rank,
            tz=snap.c.tz,
            retry_at=case(
                (cr.status == "final", cr.retry_at),
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
            Callback.kind == "personal",
            Callback.status.in_(("scheduled", "delivered")),
            reservation.is_not(None),
            Callback.agent_id != reservation,
        )
        .values(agent_id=reservation)
        .execution_options(synchronize_session=False)
    )
    _insert_missing(session, campaign, snap)


def _insert_missing(session: Session, campaign: Campaign, snap: Any) -> None:
    cr = CampaignRecord
    missing = select(
        literal(campaign.id),
        snap.c.record_id,
        case((snap.c.error.is_not(None), "error"), else_="ready"),
        snap.c.agent_id,
        snap.c.error,
        snap.c.rank,
        snap.c.tz,
        literal(0),
    ).where(
        ~select(cr.record_id)
        .where(cr.campaign_id == campaign.id, cr.record_id == snap.c.record_id)
        .exists()
    )
    session.execute(
        insert(cr).from_select(
            ["campaign_id", "record_id", "status", "agent_id", "error", "rank", "tz", "attempts"],
            missing,
        )
    )


def absorb_import(session: Session, list_id: int, import_id: int, *, now: datetime) -> None:
    """Records appended to a list join every campaign on it that has started (no recycle)."""
    for campaign in session.scalars(
        select(Campaign).where(Campaign.list_id == list_id, Campaign.pass_no > 0)
    ):
        take_snapshot(session, campaign, now=now, import_id=import_id)


def absorb_edit(session: Session, record: Record, *, now: datetime) -> None:
    """An edited record that a started campaign could not deliver (its owner value named
    nobody it could serve) is resolved again at once, as an append would (SPEC §5)."""
    for campaign in session.scalars(
        select(Campaign)
        .join(CampaignRecord, CampaignRecord.campaign_id == Campaign.id)
        .where(
            CampaignRecord.record_id == record.id,
            CampaignRecord.status == "error",
            Campaign.pass_no > 0,
        )
    ):
        take_snapshot(session, campaign, now=now, record_id=record.id)


# --- progress and errors -----------------------------------------------------------------------


@dataclass
class Progress:
    total: int = 0
    delivered: int = 0
    handled: int = 0
    remaining: int = 0
    errors: int = 0
    final: int = 0


def progress(session: Session, campaign: Campaign) -> tuple[Progress, dict[int, Progress]]:
    """Campaign totals and per owner agent (SPEC §5): total, delivered and handled in this
    pass, remaining in this pass, undeliverable, and closed."""
    cr = CampaignRecord
    pass_no = campaign.pass_no
    rows = session.execute(
        select(
            cr.agent_id,
            func.count(),
            func.sum(case((cr.delivered_pass == pass_no, 1), else_=0)),
            func.sum(case((cr.handled_pass == pass_no, 1), else_=0)),
            func.sum(case((cr.status.in_(("ready", "leased")), 1), else_=0)),
            func.sum(case((cr.status == "error", 1), else_=0)),
            func.sum(case((cr.status == "final", 1), else_=0)),
        )
        .where(cr.campaign_id == campaign.id)
        .group_by(cr.agent_id)
    ).all()
    total = Progress()
    per_agent: dict[int, Progress] = {}
    for agent_id, *counts in rows:
        item = Progress(*(int(c or 0) for c in counts))
        for field in ("total", "delivered", "handled", "remaining", "errors", "final"):
            setattr(total, field, getattr(total, field) + getattr(item, field))
        if agent_id is not None:
            per_agent[agent_id] = item
    return total, per_agent


def error_counts(session: Session, campaign_id: int) -> dict[str, int]:
    rows = session.execute(
        select(CampaignRecord.error, func.count())
        .where(CampaignRecord.campaign_id == campaign_id, CampaignRecord.status == "error")
        .group_by(CampaignRecord.error)
    ).all()
    counts = {reason.value: 0 for reason in OwnerError}
    counts.update({str(reason): int(count) for reason, count in rows})
    return counts


def error_records(
    session: Session, campaign: Campaign, *, reason: str | None, after_id: int, limit: int
) -> Sequence[tuple[CampaignRecord, Record]]:
    query = (
        select(CampaignRecord, Record)
        .join(Record, Record.id == CampaignRecord.record_id)
        .where(
            CampaignRecord.campaign_id == campaign.id,
            CampaignRecord.status == "error",
            CampaignRecord.record_id > after_id,
        )
        .order_by(CampaignRecord.record_id)
        .limit(limit)
    )
    if reason is not None:
        query = query.where(CampaignRecord.error == reason)
    return [(cr, record) for cr, record in session.execute(query)]


def assignment_history(
    session: Session,
    *,
    campaign_id: int | None,
    record_id: int | None,
    agent_id: int | None,
    before_id: int | None,
    limit: int,
) -> Sequence[Assignment]:
    query = select(Assignment).order_by(Assignment.id.desc()).limit(limit)
    if campaign_id is not None:
        query = query.where(Assignment.campaign_id == campaign_id)
    if record_id is not None:
        query = query.where(Assignment.record_id == record_id)
    if agent_id is not None:
        query = query.where(Assignment.agent_id == agent_id)
    if before_id is not None:
        query = query.where(Assignment.id < before_id)
    return session.scalars(query).all()
