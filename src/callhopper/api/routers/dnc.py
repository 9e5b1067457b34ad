"""Do-not-call lists, their numbers and imports, and the lists each campaign checks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from callhopper.api.deps import DncDep, require, require_any
from callhopper.api.ids import IntId
from callhopper.api.schemas import Body, Changes, Description, Identifier, Name, RejectionPublic
from callhopper.api.uploads import read_csv_upload
from callhopper.domain.actors import Actor
from callhopper.domain.dnc import DncListInfo, DncSource, NumberProblem
from callhopper.domain.limits import MAX_IDENTIFIER_LENGTH, MAX_PHONE_TEXT_LENGTH, MAX_SOURCE_LENGTH
from callhopper.domain.rights import Right

router = APIRouter(tags=["do-not-call"])

DncManager = Annotated[Actor, Depends(require(Right.DNC_MANAGE))]
DncReader = Annotated[
    Actor, Depends(require_any(Right.DNC_MANAGE, Right.CAMPAIGN_MANAGE, Right.REPORT_VIEW))
]

#: Numbers accepted in one JSON request; larger sets go through a CSV import.
MAX_NUMBERS_PER_REQUEST = 10_000

RegionQuery = Annotated[
    str | None,
    Query(
        max_length=MAX_IDENTIFIER_LENGTH,
        description="Region for numbers without +country (default: the server's region).",
    ),
]


# --- request and response bodies --------------------------------------------------------------


class DncListCreate(Body):
    name: Name
    description: Description = ""


class DncListUpdate(Changes):
    name: Name | None = None
    description: Description | None = None


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
    region: Identifier | None = Field(
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
    source: DncSource = Field(description="import, api, decline or wrapup")


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


def list_public(info: DncListInfo) -> DncListPublic:
    d = info.list
    return DncListPublic(
        id=d.id,
        name=d.name,
        description=d.description,
        campaign_id=d.campaign_id,
        campaign_ids=list(info.campaign_ids),
        number_count=info.number_count,
        created_at=d.created_at,
    )


def _problems(problems: Sequence[NumberProblem]) -> list[NumberProblemPublic]:
    return [NumberProblemPublic(item=p.item, number=p.number, reason=p.reason) for p in problems]


# --- lists -------------------------------------------------------------------------------------


@router.get("/dnc-lists", response_model=list[DncListPublic])
def list_dnc_lists(_actor: DncReader, dnc: DncDep) -> list[DncListPublic]:
    return [list_public(d) for d in dnc.lists()]


@router.post("/dnc-lists", response_model=DncListPublic, status_code=status.HTTP_201_CREATED)
def create_dnc_list(body: DncListCreate, actor: DncManager, dnc: DncDep) -> DncListPublic:
    return list_public(dnc.create_list(actor, name=body.name, description=body.description))


@router.get("/dnc-lists/check", response_model=DncCheckPublic)
def check_number(
    _actor: DncReader,
    dnc: DncDep,
    number: Annotated[
        str, Query(max_length=MAX_PHONE_TEXT_LENGTH, description="The number to look up.")
    ],
    campaign_id: Annotated[
        IntId | None, Query(description="Only the lists this campaign checks.")
    ] = None,
    region: RegionQuery = None,
) -> DncCheckPublic:
    """Is the number blocked, and by which lists (internal lists only)."""
    found = dnc.check(number, campaign_id=campaign_id, region=region)
    return DncCheckPublic(
        number=found.number,
        campaign_id=found.campaign_id,
        blocked=found.blocked,
        lists=[DncListRef(id=d.id, name=d.name) for d in found.lists],
    )


@router.get("/dnc-lists/{dnc_list_id}", response_model=DncListPublic)
def get_dnc_list(dnc_list_id: IntId, _actor: DncReader, dnc: DncDep) -> DncListPublic:
    return list_public(dnc.dnc_list(dnc_list_id))


@router.patch("/dnc-lists/{dnc_list_id}", response_model=DncListPublic)
def update_dnc_list(
    dnc_list_id: IntId, body: DncListUpdate, actor: DncManager, dnc: DncDep
) -> DncListPublic:
    updated = dnc.update_list(actor, dnc_list_id, name=body.name, description=body.description)
    return list_public(updated)


@router.delete("/dnc-lists/{dnc_list_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_dnc_list(dnc_list_id: IntId, actor: DncManager, dnc: DncDep) -> None:
    """Delete a list and its numbers; refused while a campaign checks it."""
    dnc.delete_list(actor, dnc_list_id)


# --- numbers -----------------------------------------------------------------------------------


@router.get("/dnc-lists/{dnc_list_id}/numbers", response_model=DncNumberPage)
def list_numbers(
    dnc_list_id: IntId,
    _actor: DncReader,
    dnc: DncDep,
    after: Annotated[str | None, Query(description="The last number of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
) -> DncNumberPage:
    """A page of the list's numbers in E.164 order."""
    page = dnc.numbers(dnc_list_id, after=after, limit=limit)
    return DncNumberPage(
        numbers=[
            DncNumberPublic(number=n.number, added_at=n.added_at, source=n.source)
            for n in page.numbers
        ],
        next_after=page.next_after,
    )


@router.post("/dnc-lists/{dnc_list_id}/numbers", response_model=DncAddReport)
def add_numbers(
    dnc_list_id: IntId, body: NumbersIn, actor: DncManager, dnc: DncDep
) -> DncAddReport:
    """Add numbers; numbers already in the list and bad items are reported, not errors."""
    outcome = dnc.add_numbers(actor, dnc_list_id, body.numbers, region=body.region)
    return DncAddReport(
        added=outcome.added,
        already_present=outcome.already_present,
        rejected=_problems(outcome.rejected),
    )


@router.post("/dnc-lists/{dnc_list_id}/numbers/remove", response_model=DncRemoveReport)
def remove_numbers(
    dnc_list_id: IntId, body: NumbersIn, actor: DncManager, dnc: DncDep
) -> DncRemoveReport:
    """Remove numbers; numbers not in the list and bad items are reported, not errors."""
    outcome = dnc.remove_numbers(actor, dnc_list_id, body.numbers, region=body.region)
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
    dnc: DncDep,
    region: RegionQuery = None,
    source: Annotated[
        str | None, Query(max_length=MAX_SOURCE_LENGTH, description="A name for the report.")
    ] = None,
) -> DncImportReportPublic:
    """Add the numbers of a CSV file (a header row with a ``number`` column).

    Send the file as the raw body (``Content-Type: text/csv``) or as the ``file``
    field of a multipart form. UTF-8 with or without BOM; ``,`` ``;`` or tab. Good
    rows are kept; every other row is reported with its line number and reason. The
    import is one transaction.
    """
    resolved = dnc.region(region)  # before the upload is read
    upload = await read_csv_upload(request)
    stream = upload.stream
    try:
        report = await run_in_threadpool(
            lambda: dnc.import_numbers(
                actor,
                dnc_list_id,
                stream,
                region=resolved,
                source=source or upload.filename or "upload.csv",
            )
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


# --- campaigns ---------------------------------------------------------------------------------


@router.get("/campaigns/{campaign_id}/dnc-lists", response_model=CampaignDncListsPublic)
def get_campaign_lists(
    campaign_id: IntId, _actor: DncReader, dnc: DncDep
) -> CampaignDncListsPublic:
    """The do-not-call lists the campaign checks before every dial."""
    return CampaignDncListsPublic(
        campaign_id=campaign_id,
        dnc_lists=[list_public(d) for d in dnc.campaign_lists(campaign_id)],
    )


@router.put("/campaigns/{campaign_id}/dnc-lists", response_model=CampaignDncListsPublic)
def set_campaign_lists(
    campaign_id: IntId, body: DncListIds, actor: DncManager, dnc: DncDep
) -> CampaignDncListsPublic:
    """Make the campaign check exactly these lists (its own list must stay among them)."""
    attached = dnc.set_campaign_lists(actor, campaign_id, body.dnc_list_ids)
    return CampaignDncListsPublic(
        campaign_id=campaign_id, dnc_lists=[list_public(d) for d in attached]
    )
