"""Do-not-call lists, their numbers and imports, and the lists each campaign checks (SPEC §4.5)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import IO, Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from callhopper.api.deps import ClockDep, DbDep, SettingsDep, require, require_any
from callhopper.api.ids import IntId
from callhopper.api.schemas import Body, RejectionPublic
from callhopper.api.uploads import read_csv_upload
from callhopper.domain.actors import Actor
from callhopper.domain.rights import Right
from callhopper.store import dnc
from callhopper.store.db import Database
from callhopper.store.models import DncList

router = APIRouter(tags=["do-not-call"])

DncManager = Annotated[Actor, Depends(require(Right.DNC_MANAGE))]
DncReader = Annotated[
    Actor, Depends(require_any(Right.DNC_MANAGE, Right.CAMPAIGN_MANAGE, Right.REPORT_VIEW))
]

#: Numbers accepted in one JSON request; larger sets go through a CSV import.
MAX_NUMBERS_PER_REQUEST = 10_000

RegionQuery = Annotated[
    str | None,
    Query(description="Region for numbers without +country (default: the server's region)."),
]


# --- request and response bodies --------------------------------------------------------------


class DncListCreate(Body):
    name: str = Field(max_length=200)
    description: str = ""


class DncListUpdate(Body):
    name: str | None = Field(None, max_length=200)
    description: str | None = None


class DncListPublic(BaseModel):
    id: int
    name: str
    description: str
    campaign_id: int | None = Field(description="Set when this is a campaign's own list.")
    campaign_ids: list[int] = Field(description="The campaigns that check this list.")
    number_count: int
    created_at: datetime


class DncListRef(BaseModel):
    id: int
    name: str


class NumbersIn(Body):
    # A number that is not one (NUL included) is reported by item, the others are kept.
    checked_per_item = frozenset({"numbers"})

    numbers: list[str] = Field(min_length=1, max_length=MAX_NUMBERS_PER_REQUEST)
    region: str | None = Field(
        None, description="Region for numbers without +country (default: the server's region)."
    )


class NumberProblemPublic(BaseModel):
    item: int = Field(description="1-based position in the request's numbers.")
    number: str
    reason: str


class DncAddReport(BaseModel):
    added: list[str]
    already_present: list[str]
    rejected: list[NumberProblemPublic]


class DncRemoveReport(BaseModel):
    removed: list[str]
    not_present: list[str]
    rejected: list[NumberProblemPublic]


class DncNumberPublic(BaseModel):
    number: str
    added_at: datetime
    source: str = Field(description="import, api, decline or wrapup")


class DncNumberPage(BaseModel):
    numbers: list[DncNumberPublic]
    next_after: str | None = Field(
        description="Pass as after= for the next page; null on the last page."
    )


class DncImportReportPublic(BaseModel):
    list_id: int
    source: str
    rows_total: int
    rows_accepted: int
    rows_rejected: int
    rejections: list[RejectionPublic]
    rejections_truncated: bool = Field(
        description="True when more rows were rejected than listed (the first 1,000 are)."
    )


class DncCheckPublic(BaseModel):
    number: str = Field(description="The number as E.164.")
    campaign_id: int | None
    blocked: bool = Field(
        description="On a list the campaign checks (without campaign_id: on any list). "
        "The external validation service is not consulted."
    )
    lists: list[DncListRef]


class DncListIds(Body):
    dnc_list_ids: list[IntId]


class CampaignDncListsPublic(BaseModel):
    campaign_id: int
    dnc_lists: list[DncListPublic]


def lists_public(session: Session, dnc_lists: Sequence[DncList]) -> list[DncListPublic]:
    """Lists with their counts and campaigns, in two queries whatever their number."""
    ids = [d.id for d in dnc_lists]
    counts = dnc.number_counts(session, ids)
    campaigns = dnc.attachments(session, ids)
    return [
        DncListPublic(
            id=d.id,
            name=d.name,
            description=d.description,
            campaign_id=d.campaign_id,
            campaign_ids=campaigns[d.id],
            number_count=counts[d.id],
            created_at=d.created_at,
        )
        for d in dnc_lists
    ]


def _problems(problems: Sequence[dnc.NumberProblem]) -> list[NumberProblemPublic]:
    return [NumberProblemPublic(item=p.item, number=p.number, reason=p.reason) for p in problems]


# --- lists -------------------------------------------------------------------------------------


@router.get("/dnc-lists", response_model=list[DncListPublic])
def list_dnc_lists(_actor: DncReader, db: DbDep) -> list[DncListPublic]:
    with db.read() as session:
        return lists_public(session, dnc.list_dnc_lists(session))


@router.post("/dnc-lists", response_model=DncListPublic, status_code=status.HTTP_201_CREATED)
def create_dnc_list(
    body: DncListCreate, actor: DncManager, db: DbDep, clock: ClockDep
) -> DncListPublic:
    with db.write() as session:
        created = dnc.create_dnc_list(
            session, actor, name=body.name, description=body.description, now=clock.now()
        )
        return lists_public(session, [created])[0]


@router.get("/dnc-lists/check", response_model=DncCheckPublic)
def check_number(
    _actor: DncReader,
    db: DbDep,
    settings: SettingsDep,
    number: Annotated[str, Query(description="The number to look up.")],
    campaign_id: Annotated[
        IntId | None, Query(description="Only the lists this campaign checks.")
    ] = None,
    region: RegionQuery = None,
) -> DncCheckPublic:
    """Is the number blocked, and by which lists (internal lists only)."""
    e164 = dnc.normalise_number(number, dnc.resolve_region(region, settings.default_region))
    with db.read() as session:
        found = dnc.lists_with_number(session, e164, campaign_id)
        return DncCheckPublic(
            number=e164,
            campaign_id=campaign_id,
            blocked=bool(found),
            lists=[DncListRef(id=d.id, name=d.name) for d in found],
        )


@router.get("/dnc-lists/{dnc_list_id}", response_model=DncListPublic)
def get_dnc_list(dnc_list_id: IntId, _actor: DncReader, db: DbDep) -> DncListPublic:
    with db.read() as session:
        return lists_public(session, [dnc.get_dnc_list(session, dnc_list_id)])[0]


@router.patch("/dnc-lists/{dnc_list_id}", response_model=DncListPublic)
def update_dnc_list(
    dnc_list_id: IntId, body: DncListUpdate, actor: DncManager, db: DbDep, clock: ClockDep
) -> DncListPublic:
    with db.write() as session:
        updated = dnc.update_dnc_list(
            session,
            actor,
            dnc_list_id,
            name=body.name,
            description=body.description,
            now=clock.now(),
        )
        return lists_public(session, [updated])[0]


@router.delete("/dnc-lists/{dnc_list_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_dnc_list(dnc_list_id: IntId, actor: DncManager, db: DbDep, clock: ClockDep) -> None:
    """Delete a list and its numbers; refused while a campaign checks it."""
    with db.write() as session:
        dnc.delete_dnc_list(session, actor, dnc_list_id, now=clock.now())


# --- numbers -----------------------------------------------------------------------------------


@router.get("/dnc-lists/{dnc_list_id}/numbers", response_model=DncNumberPage)
def list_numbers(
    dnc_list_id: IntId,
    _actor: DncReader,
    db: DbDep,
    after: Annotated[str | None, Query(description="The last number of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
) -> DncNumberPage:
    """A page of the list's numbers in E.164 order."""
    with db.read() as session:
        rows = dnc.list_numbers(session, dnc_list_id, after=after, limit=limit + 1)
        page = rows[:limit]
        return DncNumberPage(
            numbers=[
                DncNumberPublic(number=r.e164, added_at=r.added_at, source=r.source) for r in page
            ],
            next_after=page[-1].e164 if len(rows) > limit else None,
        )


@router.post("/dnc-lists/{dnc_list_id}/numbers", response_model=DncAddReport)
def add_numbers(
    dnc_list_id: IntId,
    body: NumbersIn,
    actor: DncManager,
    db: DbDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> DncAddReport:
    """Add numbers; numbers already in the list and bad items are reported, not errors."""
    region = dnc.resolve_region(body.region, settings.default_region)
    with db.write() as session:
        outcome = dnc.add_numbers(
            session, actor, dnc_list_id, body.numbers, region=region, now=clock.now()
        )
    return DncAddReport(
        added=outcome.added,
        already_present=outcome.already_present,
        rejected=_problems(outcome.rejected),
    )


@router.post("/dnc-lists/{dnc_list_id}/numbers/remove", response_model=DncRemoveReport)
def remove_numbers(
    dnc_list_id: IntId,
    body: NumbersIn,
    actor: DncManager,
    db: DbDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> DncRemoveReport:
    """Remove numbers; numbers not in the list and bad items are reported, not errors."""
    region = dnc.resolve_region(body.region, settings.default_region)
    with db.write() as session:
        outcome = dnc.remove_numbers(
            session, actor, dnc_list_id, body.numbers, region=region, now=clock.now()
        )
    return DncRemoveReport(
        removed=outcome.removed,
        not_present=outcome.not_present,
        rejected=_problems(outcome.rejected),
    )


@router.post(
    "/dnc-lists/{dnc_list_id}/imports",
    response_model=DncImportReportPublic,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
async def import_numbers(
    dnc_list_id: IntId,
    request: Request,
    actor: DncManager,
    db: DbDep,
    clock: ClockDep,
    settings: SettingsDep,
    region: RegionQuery = None,
    source: Annotated[str | None, Query(description="A name for the report.")] = None,
) -> DncImportReportPublic:
    """Add the numbers of a CSV file (a header row with a ``number`` column).

    Send the file as the raw body (``Content-Type: text/csv``) or as the ``file``
    field of a multipart form. UTF-8 with or without BOM; ``,`` ``;`` or tab. Good
    rows are kept; every other row is reported with its line number and reason. The
    import is one transaction.
    """
    resolved = dnc.resolve_region(region, settings.default_region)
    upload = await read_csv_upload(request)
    source = source or upload.filename
    stream = upload.stream
    try:
        report = await run_in_threadpool(
            _run_import,
            db,
            actor,
            dnc_list_id,
            stream,
            resolved,
            source or "upload.csv",
            settings.import_batch_rows,
            clock.now(),
        )
    finally:
        stream.close()
    return DncImportReportPublic(
        list_id=report.list_id,
        source=report.source,
        rows_total=report.rows_total,
        rows_accepted=report.rows_accepted,
        rows_rejected=report.rows_rejected,
        rejections=[
            RejectionPublic(line=r.line, column=r.column, reason=r.reason)
            for r in report.rejections
        ],
        rejections_truncated=report.rejections_truncated,
    )


def _run_import(
    db: Database,
    actor: Actor,
    dnc_list_id: int,
    stream: IO[bytes],
    region: str,
    source: str,
    batch_rows: int,
    now: datetime,
) -> dnc.DncImportReport:
    with db.write() as session:
        return dnc.import_numbers(
            session,
            actor,
            dnc_list_id,
            stream,
            region=region,
            source=source,
            batch_rows=batch_rows,
            now=now,
        )


# --- campaigns ---------------------------------------------------------------------------------


@router.get("/campaigns/{campaign_id}/dnc-lists", response_model=CampaignDncListsPublic)
def get_campaign_lists(campaign_id: IntId, _actor: DncReader, db: DbDep) -> CampaignDncListsPublic:
    """The do-not-call lists the campaign checks before every dial."""
    with db.read() as session:
        return CampaignDncListsPublic(
            campaign_id=campaign_id,
            dnc_lists=lists_public(session, dnc.campaign_lists(session, campaign_id)),
        )


@router.put("/campaigns/{campaign_id}/dnc-lists", response_model=CampaignDncListsPublic)
def set_campaign_lists(
    campaign_id: IntId, body: DncListIds, actor: DncManager, db: DbDep, clock: ClockDep
) -> CampaignDncListsPublic:
    """Make the campaign check exactly these lists (its own list must stay among them)."""
    with db.write() as session:
        attached = dnc.set_campaign_lists(
            session, actor, campaign_id, body.dnc_list_ids, now=clock.now()
        )
        return CampaignDncListsPublic(
            campaign_id=campaign_id, dnc_lists=lists_public(session, attached)
        )
