"""The lead API: insert leads with owners, optionally straight into a hopper; read, update
and search them. Owners cannot change here (see the lead-owner endpoints)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, Field

from callhopper.api.deps import LeadsDep, require, require_any
from callhopper.api.ids import BigIntId, IntId
from callhopper.api.schemas import Body, RejectionPublic, UserRef, ZoneFallbackPublic
from callhopper.domain.actors import Actor
from callhopper.domain.errors import InvalidInput
from callhopper.domain.lists import ListRecord
from callhopper.domain.rights import Right

router = APIRouter(prefix="/leads", tags=["leads"])

LeadWriter = Annotated[Actor, Depends(require(Right.CONTACT_LIST_MANAGE))]
LeadReader = Annotated[
    Actor, Depends(require_any(Right.CONTACT_LIST_MANAGE, Right.CAMPAIGN_MANAGE, Right.REPORT_VIEW))
]


class LeadsIn(Body):
    checked_per_item = frozenset({"leads"})

    list_id: IntId
    leads: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=10000,
        description="Column → value; an item's `user_id` names its owner (user id or email).",
    )
    owner: UserRef | None = Field(
        None, description="Owner of every lead without its own `user_id` (e.g. who bought them)."
    )
    hopper: Literal[0, 1] = Field(
        0, description="1: straight into the hopper of `campaign_id`; 0: wait for the next load."
    )
    campaign_id: IntId | None = Field(
        None, description="The lead-ownership campaign, with hopper=1."
    )
    priority: int = Field(0, ge=0, le=9, description="hopper=1: higher goes first.")
    check_duplicates: bool = Field(
        False, description="Report (do not insert) leads sharing a number with the list."
    )


class DuplicatePublic(BaseModel):
    item: int
    number: str
    record_id: int | None
    same_as_item: int | None


class LeadsInserted(BaseModel):
    import_id: int
    inserted: int
    created: dict[int, int] = Field(description="Item number (1-based) → new lead id.")
    duplicates: list[DuplicatePublic]
    rejections: list[RejectionPublic]
    warnings: list[ZoneFallbackPublic] = Field(
        description="Leads stored with a fallback time zone (their state or ZIP code names "
        "none), by item number."
    )
    in_hopper: int


class LeadPublic(BaseModel):
    id: int
    list_id: int
    data: dict[str, str]
    phones: list[str | None]
    tz: str | None
    owner_user_id: str | None
    status: str | None = Field(description="The last wrap-up code, in any campaign.")
    last_called_at: datetime | None
    created_at: datetime
    updated_at: datetime


class LeadUpdate(Body):
    data: dict[str, Any] = Field(min_length=1)


def lead_public(record: ListRecord) -> LeadPublic:
    return LeadPublic(
        id=record.id,
        list_id=record.list_id,
        data=record.data,
        phones=record.phones,
        tz=record.tz,
        owner_user_id=record.owner_user_id,
        status=record.last_code,
        last_called_at=record.last_called_at,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


@router.post("", response_model=LeadsInserted, status_code=status.HTTP_201_CREATED)
def insert(body: LeadsIn, actor: LeadWriter, leads: LeadsDep) -> LeadsInserted:
    """Insert leads (one or a batch) into a list, with owners; one transaction."""
    if body.hopper == 1 and body.campaign_id is None:
        raise InvalidInput("hopper=1 needs campaign_id", field="campaign_id")
    result = leads.insert(
        actor,
        body.list_id,
        body.leads,
        owner=body.owner,
        hopper_campaign_id=body.campaign_id if body.hopper == 1 else None,
        priority=body.priority,
        check_duplicates=body.check_duplicates,
    )
    return LeadsInserted(
        import_id=result.import_id,
        inserted=len(result.created),
        created=result.created,
        duplicates=[
            DuplicatePublic.model_validate(d, from_attributes=True) for d in result.duplicates
        ],
        rejections=[
            RejectionPublic.model_validate(r, from_attributes=True) for r in result.rejections
        ],
        warnings=[
            ZoneFallbackPublic.model_validate(w, from_attributes=True) for w in result.warnings
        ],
        in_hopper=result.in_hopper,
    )


@router.get("/{record_id}", response_model=LeadPublic)
def get_lead(record_id: BigIntId, _actor: LeadReader, leads: LeadsDep) -> LeadPublic:
    return lead_public(leads.get(record_id))


@router.patch("/{record_id}", response_model=LeadPublic)
def update_lead(
    record_id: BigIntId, body: LeadUpdate, actor: LeadWriter, leads: LeadsDep
) -> LeadPublic:
    """Change a lead's fields (checked like an import row). Its owner is not a field."""
    return lead_public(leads.update(actor, record_id, body.data))


@router.get("", response_model=list[LeadPublic])
def search(
    request: Request,
    _actor: LeadReader,
    leads: LeadsDep,
    list_id: IntId | None = None,
    owner: Annotated[
        str | None, Query(description="An owner's user_id, or 'none' for the general pool.")
    ] = None,
    after_id: Annotated[BigIntId, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[LeadPublic]:
    """Search leads: ``?list_id=1&owner=alice&state=AZ`` (any other parameter is a column
    that must equal the value)."""
    reserved = {"list_id", "owner", "after_id", "limit"}
    fields = {k: v for k, v in request.query_params.items() if k not in reserved}
    found = leads.search(
        list_id=list_id, owner=owner, fields=fields, after_id=after_id, limit=limit
    )
    return [lead_public(r) for r in found]
