"""Contact lists: definition, CSV import and append, JSON insert, records."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from callhopper.api.deps import ListsDep, SettingsDep, require, require_any
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
    ZoneFallbackPublic,
)
from callhopper.api.uploads import read_csv_upload
from callhopper.core.importer import parse_mapping
from callhopper.core.lists import ImportOutcome, ListSummary, RecordView
from callhopper.domain.actors import Actor
from callhopper.domain.contacts import ColumnSpec, ListSchema, PhoneColumnSpec, validation_message
from callhopper.domain.errors import InvalidInput
from callhopper.domain.limits import MAX_SOURCE_LENGTH
from callhopper.domain.rights import Right

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


def list_public(summary: ListSummary) -> ContactListPublic:
    contact_list = summary.contact_list
    schema = contact_list.schema
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
        ownership=contact_list.ownership,
        record_count=summary.record_count,
        created_at=contact_list.created_at,
        updated_at=contact_list.updated_at,
    )


@router.get("/contact-lists", response_model=list[ContactListPublic])
def list_lists(_actor: ListReader, lists: ListsDep) -> list[ContactListPublic]:
    return [list_public(c) for c in lists.all()]


@router.post(
    "/contact-lists", response_model=ContactListPublic, status_code=status.HTTP_201_CREATED
)
def create_list(
    body: ContactListCreate, actor: ListManager, lists: ListsDep, settings: SettingsDep
) -> ContactListPublic:
    schema = to_schema(body, settings.default_region)
    created = lists.create(actor, name=body.name, description=body.description, schema=schema)
    return list_public(created)


@router.get("/contact-lists/{list_id}", response_model=ContactListPublic)
def get_list(list_id: IntId, _actor: ListReader, lists: ListsDep) -> ContactListPublic:
    return list_public(lists.get(list_id))


@router.patch("/contact-lists/{list_id}", response_model=ContactListPublic)
def update_list(
    list_id: IntId,
    body: ContactListUpdate,
    actor: ListManager,
    lists: ListsDep,
    settings: SettingsDep,
) -> ContactListPublic:
    """Rename or redescribe a list, or change its schema (limited once it has records)."""
    schema = to_schema(body.schema_, settings.default_region) if body.schema_ else None
    updated = lists.update(
        actor, list_id, name=body.name, description=body.description, schema=schema
    )
    return list_public(updated)


@router.delete("/contact-lists/{list_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_list(list_id: IntId, actor: ListManager, lists: ListsDep) -> None:
    """Delete a list with its records and imports (audited)."""
    lists.delete(actor, list_id)


# --- imports -----------------------------------------------------------------------------------


def report_public(outcome: ImportOutcome) -> ImportReportPublic:
    return ImportReportPublic(
        **ImportPublic.model_validate(outcome.job, from_attributes=True).model_dump(),
        rejections=[
            RejectionPublic.model_validate(r, from_attributes=True)
            for r in outcome.report.rejections
        ],
        rejections_truncated=outcome.report.rejections_truncated,
        rows_warned=outcome.report.rows_warned,
        warnings=[
            ZoneFallbackPublic.model_validate(w, from_attributes=True)
            for w in outcome.report.warnings
        ],
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
    lists: ListsDep,
    mapping: Annotated[
        str | None,
        Query(description='JSON {"CSV header": "list column" or null to ignore it}.'),
    ] = None,
    source: Annotated[
        str | None, Query(max_length=MAX_SOURCE_LENGTH, description="A name for the report.")
    ] = None,
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
            lambda: lists.import_rows(
                actor,
                list_id,
                source=source or "upload.csv",
                csv_stream=stream,
                mapping=parse_mapping(mapping),
                on_duplicate=on_duplicate,
            )
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
    list_id: IntId, body: RecordsIn, actor: ListManager, lists: ListsDep
) -> ImportReportPublic:
    """Append records given as JSON objects of column → value (item *n* reports as line *n*)."""
    outcome = lists.import_rows(
        actor, list_id, source="api", items=body.records, on_duplicate=body.on_duplicate
    )
    return report_public(outcome)


@router.get("/contact-lists/{list_id}/imports", response_model=list[ImportPublic])
def list_imports(list_id: IntId, _actor: ListReader, lists: ListsDep) -> list[ImportPublic]:
    return [ImportPublic.model_validate(j, from_attributes=True) for j in lists.imports(list_id)]


@router.get("/contact-lists/{list_id}/imports/{import_id}", response_model=ImportPublic)
def get_import(
    list_id: IntId, import_id: IntId, _actor: ListReader, lists: ListsDep
) -> ImportPublic:
    return ImportPublic.model_validate(lists.import_job(list_id, import_id), from_attributes=True)


@router.get(
    "/contact-lists/{list_id}/imports/{import_id}/rejections",
    response_model=list[RejectionPublic],
)
def get_rejections(
    list_id: IntId,
    import_id: IntId,
    _actor: ListReader,
    lists: ListsDep,
    offset: Annotated[BigIntId, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> list[RejectionPublic]:
    """Every rejected row of an import, by line."""
    return [
        RejectionPublic.model_validate(r, from_attributes=True)
        for r in lists.rejections(list_id, import_id, offset=offset, limit=limit)
    ]


# --- records -----------------------------------------------------------------------------------


def record_public(view: RecordView) -> RecordPublic:
    """A record; its owning campaign is there only for users with ownership control."""
    record = view.record
    owner = view.campaign_owner
    return RecordPublic(
        id=record.id,
        list_id=record.list_id,
        key=record.key,
        data=record.data,
        phones=record.phones,
        phone_extensions=view.phone_extensions,
        tz=record.tz,
        owner_user_id=record.owner_user_id,
        created_at=record.created_at,
        updated_at=record.updated_at,
        campaign_owner=(
            CampaignOwnerPublic.model_validate(owner, from_attributes=True)
            if owner is not None
            else None
        ),
    )


@router.get("/contact-lists/{list_id}/records", response_model=list[RecordPublic])
def list_records(
    list_id: IntId,
    actor: ListReader,
    lists: ListsDep,
    after_id: Annotated[
        BigIntId, Query(ge=0, description="Page on: the last id of the page before.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[RecordPublic]:
    return [record_public(r) for r in lists.records(actor, list_id, after_id=after_id, limit=limit)]


@router.get("/contact-lists/{list_id}/records/{record_id}", response_model=RecordPublic)
def get_record(
    list_id: IntId, record_id: BigIntId, actor: ListReader, lists: ListsDep
) -> RecordPublic:
    return record_public(lists.record(actor, list_id, record_id))


@router.patch("/contact-lists/{list_id}/records/{record_id}", response_model=RecordPublic)
def update_record(
    list_id: IntId, record_id: BigIntId, body: RecordUpdate, actor: ListManager, lists: ListsDep
) -> RecordPublic:
    """Change values of one record (any column, checked like an import row; audited).

    A new agent-owned value takes effect in running campaigns at their next recycle.
    """
    return record_public(lists.update_record(actor, list_id, record_id, body.data))
