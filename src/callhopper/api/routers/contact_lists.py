"""Contact lists: definition, CSV import and append, JSON insert, records (SPEC §3)."""

from __future__ import annotations

from datetime import datetime
from typing import IO, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy.orm import Session

from callhopper.api.deps import ClockDep, DbDep, SettingsDep, require, require_any
from callhopper.api.ids import BigIntId, IntId
from callhopper.api.schemas import (
    CampaignOwnerPublic,
    ContactListCreate,
    ContactListPublic,
    ContactListUpdate,
    ImportPublic,
    ImportReportPublic,
    ListSchemaIn,
    OnDuplicate,
    RecordPublic,
    RecordsIn,
    RecordUpdate,
    RejectionPublic,
)
from callhopper.api.uploads import read_csv_upload
from callhopper.core.importer import parse_mapping
from callhopper.domain.actors import Actor
from callhopper.domain.contacts import ColumnSpec, ListSchema, PhoneColumnSpec, validation_message
from callhopper.domain.errors import InvalidInput
from callhopper.domain.rights import Right
from callhopper.settings import Settings
from callhopper.store import contact_lists as lists
from callhopper.store.contact_lists import ImportOutcome
from callhopper.store.db import Database
from callhopper.store.models import ContactList, ImportJob, Record, User
from callhopper.store.ownership import active_owner
from callhopper.store.ownership import settings_of as ownership_settings

router = APIRouter(tags=["contact lists"])

ListManager = Annotated[Actor, Depends(require(Right.CONTACT_LIST_MANAGE))]
ListReader = Annotated[
    Actor, Depends(require_any(Right.CONTACT_LIST_MANAGE, Right.CAMPAIGN_MANAGE, Right.REPORT_VIEW))
]


def to_schema(body: ListSchemaIn, default_region: str) -> ListSchema:
    """Build a :class:`ListSchema`, turning its validation errors into one clear message."""
    try:
        return ListSchema(
            columns=tuple(ColumnSpec(name=c) if isinstance(c, str) else c for c in body.columns),
            phone_columns=tuple(
                PhoneColumnSpec(column=p) if isinstance(p, str) else p for p in body.phone_columns
            ),
            timezone_source=body.timezone_source,
            agent_owned_column=body.agent_owned_column,
            lead_owner_column=body.lead_owner_column,
            key_column=body.key_column,
            default_region=body.default_region or default_region,
            default_timezone=body.default_timezone,
        )
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc), field="schema") from None


def list_public(session: Session, contact_list: ContactList) -> ContactListPublic:
    schema = lists.schema_of(contact_list)
    return ContactListPublic(
        id=contact_list.id,
        name=contact_list.name,
        description=contact_list.description,
        columns=list(schema.columns),
        phone_columns=list(schema.phone_columns),
        timezone_source=schema.timezone_source,
        agent_owned_column=schema.agent_owned_column,
        lead_owner_column=schema.lead_owner_column,
        key_column=schema.key_column,
        default_region=schema.default_region,
        default_timezone=schema.default_timezone,
        ownership=ownership_settings(contact_list),
        record_count=lists.record_count(session, contact_list.id),
        created_at=contact_list.created_at,
        updated_at=contact_list.updated_at,
    )


@router.get("/contact-lists", response_model=list[ContactListPublic])
def list_lists(_actor: ListReader, db: DbDep) -> list[ContactListPublic]:
    with db.read() as session:
        return [list_public(session, c) for c in lists.list_lists(session)]


@router.post(
    "/contact-lists", response_model=ContactListPublic, status_code=status.HTTP_201_CREATED
)
def create_list(
    body: ContactListCreate, actor: ListManager, db: DbDep, clock: ClockDep, settings: SettingsDep
) -> ContactListPublic:
    schema = to_schema(body, settings.default_region)
    with db.write() as session:
        contact_list = lists.create_list(
            session,
            actor,
            name=body.name,
            description=body.description,
            schema=schema,
            now=clock.now(),
        )
        return list_public(session, contact_list)


@router.get("/contact-lists/{list_id}", response_model=ContactListPublic)
def get_list(list_id: IntId, _actor: ListReader, db: DbDep) -> ContactListPublic:
    with db.read() as session:
        return list_public(session, lists.get_list(session, list_id))


@router.patch("/contact-lists/{list_id}", response_model=ContactListPublic)
def update_list(
    list_id: IntId,
    body: ContactListUpdate,
    actor: ListManager,
    db: DbDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> ContactListPublic:
    """Rename or redescribe a list, or change its schema (limited once it has records)."""
    schema = to_schema(body.schema_, settings.default_region) if body.schema_ else None
    with db.write() as session:
        contact_list = lists.update_list(
            session,
            actor,
            list_id,
            name=body.name,
            description=body.description,
            schema=schema,
            now=clock.now(),
        )
        return list_public(session, contact_list)


@router.delete("/contact-lists/{list_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_list(list_id: IntId, actor: ListManager, db: DbDep, clock: ClockDep) -> None:
    """Delete a list with its records and imports (audited)."""
    with db.write() as session:
        lists.delete_list(session, actor, list_id, now=clock.now())


# --- imports -----------------------------------------------------------------------------------


def report_public(outcome: ImportOutcome) -> ImportReportPublic:
    return ImportReportPublic(
        **import_public(outcome.job).model_dump(),
        rejections=[
            RejectionPublic(line=r.line, column=r.column, reason=r.reason)
            for r in outcome.report.rejections
        ],
        rejections_truncated=outcome.report.rejections_truncated,
    )


def import_public(job: ImportJob) -> ImportPublic:
    return ImportPublic(
        import_id=job.id,
        list_id=job.list_id,
        source=job.source,
        format=job.format,
        started_at=job.started_at,
        finished_at=job.finished_at,
        rows_total=job.rows_total,
        rows_accepted=job.rows_accepted,
        rows_updated=job.rows_updated,
        rows_rejected=job.rows_rejected,
    )


@router.post(
    "/contact-lists/{list_id}/imports",
    response_model=ImportReportPublic,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "mapping": {"type": "string"},
                        },
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
async def import_csv(
    list_id: IntId,
    request: Request,
    actor: ListManager,
    db: DbDep,
    clock: ClockDep,
    settings: SettingsDep,
    mapping: Annotated[
        str | None,
        Query(description='JSON {"CSV header": "list column" or null to ignore it}.'),
    ] = None,
    source: Annotated[str | None, Query(description="A name for the report.")] = None,
    on_duplicate: Annotated[
        OnDuplicate,
        Query(description="A key already in the list: reject the row, or update the record."),
    ] = OnDuplicate.REJECT,
) -> ImportReportPublic:
    """Append a CSV file to the list (the first import of an empty list is an append too).

    Send the file as the raw body (``Content-Type: text/csv``) or as the ``file``
    field of a multipart form. UTF-8 with or without BOM; ``,`` ``;`` or tab;
    a header row. Good rows are kept, bad rows are reported with line and reason.
    """
    upload = await read_csv_upload(request)
    if mapping is None:
        mapping = upload.fields.get("mapping")
    source = source or upload.filename
    stream = upload.stream
    try:
        outcome = await run_in_threadpool(
            _run_import,
            db,
            actor,
            list_id,
            settings,
            clock.now(),
            source or "upload.csv",
            csv_stream=stream,
            mapping=parse_mapping(mapping),
            on_duplicate=on_duplicate,
        )
    finally:
        stream.close()
    return report_public(outcome)


@router.post(
    "/contact-lists/{list_id}/records",
    response_model=ImportReportPublic,
    status_code=status.HTTP_201_CREATED,
)
def insert_records(
    list_id: IntId,
    body: RecordsIn,
    actor: ListManager,
    db: DbDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> ImportReportPublic:
    """Append records given as JSON objects of column → value (item *n* reports as line *n*)."""
    outcome = _run_import(
        db,
        actor,
        list_id,
        settings,
        clock.now(),
        "api",
        items=body.records,
        on_duplicate=body.on_duplicate,
    )
    return report_public(outcome)


def _run_import(
    db: Database,
    actor: Actor,
    list_id: int,
    settings: Settings,
    now: Any,
    source: str,
    *,
    csv_stream: IO[bytes] | None = None,
    items: list[dict[str, Any]] | None = None,
    mapping: dict[str, str | None] | None = None,
    on_duplicate: str = "reject",
) -> ImportOutcome:
    with db.write() as session:
        return lists.import_rows(
            session,
            actor,
            list_id,
            source=source,
            csv_stream=csv_stream,
            items=items,
            mapping=mapping,
            workers=settings.import_workers,
            batch_rows=settings.import_batch_rows,
            on_duplicate=on_duplicate,
            now=now,
        )


@router.get("/contact-lists/{list_id}/imports", response_model=list[ImportPublic])
def list_imports(list_id: IntId, _actor: ListReader, db: DbDep) -> list[ImportPublic]:
    with db.read() as session:
        lists.get_list(session, list_id)
        return [import_public(j) for j in lists.list_imports(session, list_id)]


@router.get("/contact-lists/{list_id}/imports/{import_id}", response_model=ImportPublic)
def get_import(list_id: IntId, import_id: IntId, _actor: ListReader, db: DbDep) -> ImportPublic:
    with db.read() as session:
        return import_public(lists.get_import(session, list_id, import_id))


@router.get(
    "/contact-lists/{list_id}/imports/{import_id}/rejections",
    response_model=list[RejectionPublic],
)
def get_rejections(
    list_id: IntId,
    import_id: IntId,
    _actor: ListReader,
    db: DbDep,
    offset: Annotated[BigIntId, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> list[RejectionPublic]:
    """Every rejected row of an import, by line."""
    with db.read() as session:
        lists.get_import(session, list_id, import_id)
        return [
            RejectionPublic(line=r.line, column=r.column, reason=r.reason)
            for r in lists.import_rejections(session, import_id, offset=offset, limit=limit)
        ]


# --- records -----------------------------------------------------------------------------------


def record_public(session: Session, record: Record, actor: Actor, now: datetime) -> RecordPublic:
    """A record; its owning campaign is shown only to users with ownership control."""
    owner = session.get(User, record.owner_id) if record.owner_id is not None else None
    campaign_owner = None
    if actor.can(Right.CONTACT_LIST_OWNERSHIP_CONTROL):
        held = active_owner(session, record.id, now)
        if held is not None:
            campaign_owner = CampaignOwnerPublic(
                campaign_id=held.campaign_id,
                campaign_name=held.campaign_name,
                owned_at=held.owned_at,
                expires_at=held.expires_at,
            )
    return RecordPublic(
        id=record.id,
        list_id=record.list_id,
        key=record.key,
        data=record.data,
        phones=record.phones,
        tz=record.tz,
        owner_user_id=owner.user_id if owner is not None else None,
        created_at=record.created_at,
        updated_at=record.updated_at,
        campaign_owner=campaign_owner,
    )


@router.get("/contact-lists/{list_id}/records", response_model=list[RecordPublic])
def list_records(
    list_id: IntId,
    actor: ListReader,
    db: DbDep,
    clock: ClockDep,
    after_id: Annotated[
        BigIntId, Query(ge=0, description="Page on: the last id of the page before.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[RecordPublic]:
    with db.read() as session:
        lists.get_list(session, list_id)
        return [
            record_public(session, r, actor, clock.now())
            for r in lists.page_records(session, list_id, after_id=after_id, limit=limit)
        ]


@router.get("/contact-lists/{list_id}/records/{record_id}", response_model=RecordPublic)
def get_record(
    list_id: IntId, record_id: BigIntId, actor: ListReader, db: DbDep, clock: ClockDep
) -> RecordPublic:
    with db.read() as session:
        record = lists.get_record(session, list_id, record_id)
        return record_public(session, record, actor, clock.now())


@router.patch("/contact-lists/{list_id}/records/{record_id}", response_model=RecordPublic)
def update_record(
    list_id: IntId,
    record_id: BigIntId,
    body: RecordUpdate,
    actor: ListManager,
    db: DbDep,
    clock: ClockDep,
) -> RecordPublic:
    """Change values of one record (any column, checked like an import row; audited).

    A new agent-owned value takes effect in running campaigns at their next recycle.
    """
    with db.write() as session:
        now = clock.now()
        record = lists.update_record(session, actor, list_id, record_id, body.data, now=now)
        return record_public(session, record, actor, now)
