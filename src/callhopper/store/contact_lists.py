"""Contact lists, their records and imports (SPEC §3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import BigInteger, Integer, bindparam, delete, func, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import column, table

from callhopper.core.importer import Importer, ImportReport
from callhopper.domain.actors import Actor
from callhopper.domain.contacts import ListSchema, check_schema_change
from callhopper.domain.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from callhopper.store.audit import audit
from callhopper.store.models import ContactList, ImportJob, ImportRejection, Record, User
from callhopper.store.records import (
    IMPORT_UPDATES,
    SqlRecordSink,
    drop_import_updates,
    index_phones,
)
from callhopper.store.types import UTCDateTime


def get_list(session: Session, list_id: int) -> ContactList:
    contact_list = session.get(ContactList, list_id)
    if contact_list is None:
        raise NotFound(f"no contact list {list_id}", field="list_id")
    return contact_list


def get_list_by_name(session: Session, name: str) -> ContactList:
    contact_list = session.scalar(select(ContactList).where(ContactList.name == name))
    if contact_list is None:
        raise NotFound(f"no contact list named {name!r}", field="name")
    return contact_list


def schema_of(contact_list: ContactList) -> ListSchema:
    return ListSchema.model_validate(contact_list.schema)


def list_lists(session: Session) -> Sequence[ContactList]:
    return session.scalars(select(ContactList).order_by(ContactList.id)).all()


def record_count(session: Session, list_id: int) -> int:
    return (
        session.scalar(select(func.count()).select_from(Record).where(Record.list_id == list_id))
        or 0
    )


def create_list(
    session: Session,
    actor: Actor,
    *,
    name: str,
    description: str,
    schema: ListSchema,
    now: datetime,
) -> ContactList:
    name = name.strip()
    if not name:
        raise InvalidInput("the name is empty", field="name")
    if session.scalar(select(ContactList.id).where(ContactList.name == name)) is not None:
        raise AlreadyExists(f"a contact list named {name!r} already exists", field="name")
    contact_list = ContactList(
        name=name,
        description=description,
        schema=schema.model_dump(mode="json"),
        created_at=now,
        updated_at=now,
    )
    session.add(contact_list)
    session.flush()
    audit(
        session,
        actor,
        "contact_list.create",
        "contact_list",
        contact_list.id,
        now=now,
        after=list_view(contact_list),
    )
    return contact_list


def update_list(
    session: Session,
    actor: Actor,
    list_id: int,
    *,
    name: str | None,
    description: str | None,
    schema: ListSchema | None,
    now: datetime,
) -> ContactList:
    contact_list = get_list(session, list_id)
    before = list_view(contact_list)
    if name is not None:
        name = name.strip()
        if not name:
            raise InvalidInput("the name is empty", field="name")
        other = session.scalar(select(ContactList.id).where(ContactList.name == name))
        if other is not None and other != contact_list.id:
            raise AlreadyExists(f"a contact list named {name!r} already exists", field="name")
        contact_list.name = name
    if description is not None:
        contact_list.description = description
    if schema is not None:
        has_records = (
            session.scalar(select(Record.id).where(Record.list_id == contact_list.id).limit(1))
            is not None
        )
        old = schema_of(contact_list)
        check_schema_change(old, schema, has_records=has_records)
        if old.agent_owned_column != schema.agent_owned_column:
            users = campaigns_using(session, contact_list.id)
            if users:
                raise Conflict(
                    f"campaign(s) {', '.join(users)} deliver by the agent-owned column "
                    f"{old.agent_owned_column!r}; it cannot change",
                    field="agent_owned_column",
                )
        contact_list.schema = schema.model_dump(mode="json")
    contact_list.updated_at = now
    audit(
        session,
        actor,
        "contact_list.update",
        "contact_list",
        contact_list.id,
        now=now,
        before=before,
        after=list_view(contact_list),
    )
    return contact_list


def campaigns_using(session: Session, list_id: int) -> list[str]:
    from callhopper.store.models import Campaign

    return list(session.scalars(select(Campaign.name).where(Campaign.list_id == list_id)))


def delete_list(session: Session, actor: Actor, list_id: int, *, now: datetime) -> None:
    contact_list = get_list(session, list_id)
    users = campaigns_using(session, list_id)
    if users:
        raise Conflict(
            f"campaign(s) {', '.join(users)} use this list; delete them first", field="list_id"
        )
    count = record_count(session, list_id)
    audit(
        session,
        actor,
        "contact_list.delete",
        "contact_list",
        contact_list.id,
        now=now,
        before={**list_view(contact_list), "records": count},
    )
    session.delete(contact_list)


def list_view(contact_list: ContactList) -> dict[str, Any]:
    return {
        "id": contact_list.id,
        "name": contact_list.name,
        "description": contact_list.description,
        "schema": contact_list.schema,
    }


# --- records -----------------------------------------------------------------------------------


def get_record(session: Session, list_id: int, record_id: int) -> Record:
    record = session.get(Record, record_id)
    if record is None or record.list_id != list_id:
        raise NotFound(f"no record {record_id} in list {list_id}", field="record_id")
    return record


def update_record(
    session: Session,
    actor: Actor,
    list_id: int,
    record_id: int,
    changes: Mapping[str, Any],
    *,
    now: datetime,
) -> Record:
    """Change one record's values, checked by the list's row rules; phones, time zone and key
    follow. Audited with the values before and after."""
    from callhopper.domain.contacts import Rejection, RowNormaliser
    from callhopper.store.models import CampaignRecord

    contact_list = get_list(session, list_id)
    schema = schema_of(contact_list)
    record = get_record(session, list_id, record_id)
    unknown = sorted(set(changes) - set(schema.column_names))
    if unknown:
        raise InvalidInput(f"unknown column(s): {', '.join(unknown)}", field="data")
    owner_column = schema.lead_owner_column
    if owner_column is not None and owner_column in changes:
        wanted = changes[owner_column]
        if ("" if wanted is None else str(wanted)) != record.data.get(owner_column, ""):
            raise InvalidInput(
                f"column {owner_column!r} is the lead-owner column: change the owner with "
                f"PUT /api/v1/contact-lists/{list_id}/records/{record_id}/owner (or a mass "
                "edit), not the record's data",
                field=owner_column,
            )
    merged = dict(record.data)
    for name, value in changes.items():
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, str | int | float)
        ):
            raise InvalidInput(f"column {name!r}: value must be a string or number", field=name)
        merged[name] = "" if value is None else str(value)
    outcome = RowNormaliser(schema).normalise(0, merged)
    if isinstance(outcome, Rejection):
        raise InvalidInput(outcome.reason, field=outcome.column or "data")
    if outcome.key != record.key and outcome.key is not None:
        clash = session.scalar(
            select(Record.id).where(Record.list_id == list_id, Record.key == outcome.key)
        )
        if clash is not None:
            raise AlreadyExists(
                f"key {outcome.key!r} is already used by record {clash}", field=schema.key_column
            )
    before = {k: record.data.get(k) for k in changes}
    record.data = outcome.data
    record.phones = outcome.phones
    record.tz = outcome.tz
    record.key = outcome.key
    record.updated_at = now
    session.flush()
    index_phones(session, record_id=record.id)
    session.execute(
        update(CampaignRecord).where(CampaignRecord.record_id == record.id).values(tz=outcome.tz)
    )
    from callhopper.store.campaigns import absorb_edit, refresh_zones
    from callhopper.store.models import Campaign

    for campaign in session.scalars(
        select(Campaign)
        .join(CampaignRecord, CampaignRecord.campaign_id == Campaign.id)
        .where(CampaignRecord.record_id == record.id)
    ):
        if outcome.tz not in campaign.zones:
            refresh_zones(session, campaign)
    absorb_edit(session, record, now=now)
    session.flush()
    audit(
        session,
        actor,
        "record.update",
        "record",
        record.id,
        now=now,
        before=before,
        after={k: record.data.get(k) for k in changes},
    )
    return record


def page_records(session: Session, list_id: int, *, after_id: int, limit: int) -> Sequence[Record]:
    return session.scalars(
        select(Record)
        .where(Record.list_id == list_id, Record.id > after_id)
        .order_by(Record.id)
        .limit(limit)
    ).all()


# --- imports -----------------------------------------------------------------------------------


@dataclass
class ImportOutcome:
    job: ImportJob
    report: ImportReport


def import_rows(
    session: Session,
    actor: Actor,
    list_id: int,
    *,
    source: str,
    csv_stream: IO[bytes] | None = None,
    items: Sequence[Mapping[str, Any]] | None = None,
    mapping: Mapping[str, str | None] | None = None,
    workers: int = 0,
    batch_rows: int = 5000,
    on_duplicate: str = "reject",
    default_owner_id: int | None = None,
    on_progress: Any = None,
    now: datetime,
) -> ImportOutcome:
    """Append rows to a list in the caller's transaction: all accepted rows or none.

    Exactly one of ``csv_stream`` and ``items`` is given. With
    ``on_duplicate="update"`` a row whose key is already in the list updates
    that record instead of being refused: the row's columns overwrite, the
    columns it lacks keep their values, and phones, time zone and key are
    derived again from the merged values. Bad rows are
    reported, not stored; a file-level problem (no header, unknown columns,
    invalid UTF-8) raises :class:`InvalidInput` and the caller rolls back.
    """
    contact_list = get_list(session, list_id)
    schema = schema_of(contact_list)
    job = ImportJob(
        list_id=contact_list.id,
        actor_id=actor.id,
        source=source[:500],
        format="csv" if csv_stream is not None else "json",
        started_at=now,
    )
    session.add(job)
    session.flush()
    sink = SqlRecordSink(session, contact_list.id, job.id, now)
    importer = Importer(
        schema,
        sink,
        workers=workers,
        batch_rows=batch_rows,
        on_duplicate=on_duplicate,
        owners=lead_owner_resolver(session) if schema.lead_owner_column or items else None,
        default_owner=default_owner_id,
        on_progress=on_progress,
    )
    if csv_stream is not None:
        report = importer.run_csv(csv_stream, mapping)
    else:
        assert items is not None
        report = importer.run_items(items)
    if report.rows_accepted:
        session.flush()
        index_phones(session, import_id=job.id)
        audit_import_owners(session, actor, job.id, now, updates=sink.has_updates)
        if sink.has_updates:
            follow_updated_zones(session, contact_list.id)
            unstage_reowned(session)
            drop_import_updates(session)
        # Appended records join the campaigns already running on the list (SPEC §3, §5).
        from callhopper.store.campaigns import absorb_import

        session.flush()
        absorb_import(session, contact_list.id, job.id, now=now)
    job.rows_total = report.rows_total
    job.rows_accepted = report.rows_accepted
    job.rows_updated = report.rows_updated
    job.rows_rejected = report.rows_rejected
    job.finished_at = now
    contact_list.updated_at = now
    audit(
        session,
        actor,
        "contact_list.import",
        "contact_list",
        contact_list.id,
        now=now,
        after={
            "import_id": job.id,
            "source": job.source,
            "format": job.format,
            "rows_total": job.rows_total,
            "rows_accepted": job.rows_accepted,
            "rows_updated": job.rows_updated,
            "rows_rejected": job.rows_rejected,
        },
    )
    return ImportOutcome(job, report)


def lead_owner_resolver(session: Session) -> Any:
    """Maps a lead-owner value (user id, or email in any case) to an active agent's id."""
    from callhopper.domain.rights import Right
    from callhopper.store.users import actor_of

    agents = list(session.scalars(select(User).where(User.active.is_(True))))
    agents = [u for u in agents if actor_of(session, u).can(Right.AGENT_WORK)]
    by_id = {u.user_id: u.id for u in agents}
    by_email = {u.email_key: u.id for u in agents}

    def resolve(value: str) -> int | None:
        value = value.strip()
        return by_id.get(value) or by_email.get(value.lower())

    return resolve


_JSON_OBJECT = {"postgresql": "jsonb_build_object", "sqlite": "json_object"}


def audit_import_owners(
    session: Session, actor: Actor, import_id: int, now: datetime, *, updates: bool
) -> None:
    """One audit entry per lead whose owner an import set or changed (SPEC §1: every
    assignment), shaped like every other ``record.owner`` entry: before and after
    ``{"owner_user_id": …}``. A record the import updated (``updates``: listed in
    ``IMPORT_UPDATES`` with its owner before) is audited only if its owner changed."""
    from callhopper.store.lead_owners import OWNER_ACTION

    obj = _JSON_OBJECT[session.get_bind().dialect.name]
    if updates:
        before = f"{obj}('owner_user_id', old.user_id)"
        joins = (
            f"LEFT JOIN {IMPORT_UPDATES} iu ON iu.record_id = r.id "
            "LEFT JOIN users old ON old.id = iu.old_owner_id "
        )
        changed = "AND (iu.old_owner_id IS NULL OR iu.old_owner_id <> r.owner_id) "
    else:
        before, joins, changed = f"{obj}('owner_user_id', NULL)", "", ""
    session.execute(
        text(
            "INSERT INTO audit_log (at, actor_id, actor, action, target_type, target_id, "
            "before, after, reason) "
            f"SELECT :now, :actor_id, :actor, '{OWNER_ACTION}', 'record', "
            f"CAST(r.id AS VARCHAR(40)), {before}, {obj}('owner_user_id', u.user_id), :reason "
            f"FROM records r JOIN users u ON u.id = r.owner_id {joins}"
            f"WHERE r.import_id = :import_id {changed}ORDER BY r.id"
        ).bindparams(bindparam("now", type_=UTCDateTime())),
        {
            "now": now,
            "actor_id": actor.id,
            "actor": actor.user_id,
            "import_id": import_id,
            "reason": f"import {import_id}",
        },
    )


def follow_updated_zones(session: Session, list_id: int) -> None:
    """The campaigns' copies of the time zone follow the records an import updated, as
    for a record changed by hand (:func:`update_record`)."""
    from callhopper.store.campaigns import refresh_zones
    from callhopper.store.models import Campaign, CampaignRecord

    updated = table(IMPORT_UPDATES, column("record_id", BigInteger()))
    record_tz = select(Record.tz).where(Record.id == CampaignRecord.record_id).scalar_subquery()
    session.execute(
        update(CampaignRecord)
        .where(
            CampaignRecord.record_id.in_(select(updated.c.record_id)),
            CampaignRecord.tz.is_distinct_from(record_tz),
        )
        .values(tz=record_tz)
        .execution_options(synchronize_session=False)
    )
    for campaign in session.scalars(select(Campaign).where(Campaign.list_id == list_id)):
        refresh_zones(session, campaign)


def unstage_reowned(session: Session) -> None:
    """Leads an import gave another owner leave the hopper, where they were staged for the
    old owner (or as general leads), as after any owner change; the next load re-enters them."""
    from callhopper.store.models import HopperEntry

    updated = table(
        IMPORT_UPDATES, column("record_id", BigInteger()), column("old_owner_id", Integer())
    )
    reowned = (
        select(updated.c.record_id)
        .join(Record, Record.id == updated.c.record_id)
        .where(Record.owner_id.is_distinct_from(updated.c.old_owner_id))
    )
    session.execute(delete(HopperEntry).where(HopperEntry.record_id.in_(reowned)))


def get_import(session: Session, list_id: int, import_id: int) -> ImportJob:
    job = session.get(ImportJob, import_id)
    if job is None or job.list_id != list_id:
        raise NotFound(f"no import {import_id} for list {list_id}", field="import_id")
    return job


def list_imports(session: Session, list_id: int) -> Sequence[ImportJob]:
    return session.scalars(
        select(ImportJob).where(ImportJob.list_id == list_id).order_by(ImportJob.id.desc())
    ).all()


def import_rejections(
    session: Session, import_id: int, *, offset: int, limit: int
) -> Sequence[ImportRejection]:
    return session.scalars(
        select(ImportRejection)
        .where(ImportRejection.import_id == import_id)
        .order_by(ImportRejection.line, ImportRejection.id)
        .offset(offset)
        .limit(limit)
    ).all()
