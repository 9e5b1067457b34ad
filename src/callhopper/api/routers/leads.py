"""The lead API (SPEC §7.1): insert leads with owners, optionally straight into a hopper;
read, update and search them. Owners cannot change here (see the lead-owner endpoints)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from callhopper.api.deps import ClockDep, DbDep, require, require_any
from callhopper.api.ids import BigIntId, IntId
from callhopper.api.schemas import Body, RejectionPublic
from callhopper.core.hopper import HopperLoader
from callhopper.domain.actors import Actor
from callhopper.domain.errors import InvalidInput, NotFound
from callhopper.domain.rights import Right
from callhopper.store import contact_lists as lists
from callhopper.store import leads
from callhopper.store.models import Record

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
    owner: str | None = Field(
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


def lead_public(record: Record, owners: dict[int, str]) -> LeadPublic:
    return LeadPublic(
        id=record.id,
        list_id=record.list_id,
        data=record.data,
        phones=record.phones,
        tz=record.tz,
        owner_user_id=owners.get(record.owner_id) if record.owner_id is not None else None,
        status=record.last_code,
        last_called_at=record.last_called_at,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _lead(session: Session, record_id: int) -> Record:
    record = session.get(Record, record_id)
    if record is None:
        raise NotFound(f"no lead {record_id}", field="record_id")
    return record


@router.post("", response_model=LeadsInserted, status_code=status.HTTP_201_CREATED)
def insert(
    body: LeadsIn, request: Request, actor: LeadWriter, db: DbDep, clock: ClockDep
) -> LeadsInserted:
    """Insert leads (one or a batch) into a list, with owners; one transaction."""
    if body.hopper == 1 and body.campaign_id is None:
        raise InvalidInput("hopper=1 needs campaign_id", field="campaign_id")
    with db.write() as session:
        result = leads.insert_leads(
            session,
            actor,
            body.list_id,
            body.leads,
            owner=body.owner,
            hopper_campaign_id=body.campaign_id if body.hopper == 1 else None,
            priority=body.priority,
            check_duplicates=body.check_duplicates,
            now=clock.now(),
        )
    loader: HopperLoader = request.app.state.hopper_loader
    loader.wake()  # new general leads may be routed at once
    return LeadsInserted(
        import_id=result.import_id,
        inserted=len(result.created),
        created=result.created,
        duplicates=[DuplicatePublic(**vars(d)) for d in result.duplicates],
        rejections=[
            RejectionPublic(line=r.line, column=r.column, reason=r.reason)
            for r in result.rejections
        ],
        in_hopper=result.in_hopper,
    )


@router.get("/{record_id}", response_model=LeadPublic)
def get_lead(record_id: BigIntId, _actor: LeadReader, db: DbDep) -> LeadPublic:
    with db.read() as session:
        record = _lead(session, record_id)
        return lead_public(record, leads.owner_user_ids(session, [record]))


@router.patch("/{record_id}", response_model=LeadPublic)
def update_lead(
    record_id: BigIntId, body: LeadUpdate, actor: LeadWriter, db: DbDep, clock: ClockDep
) -> LeadPublic:
    """Change a lead's fields (checked like an import row). Its owner is not a field."""
    with db.write() as session:
        record = _lead(session, record_id)
        record = lists.update_record(
            session, actor, record.list_id, record_id, body.data, now=clock.now()
        )
        return lead_public(record, leads.owner_user_ids(session, [record]))


@router.get("", response_model=list[LeadPublic])
def search(
    request: Request,
    _actor: LeadReader,
    db: DbDep,
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
    with db.read() as session:
        found = leads.search(
            session, list_id=list_id, owner=owner, fields=fields, after_id=after_id, limit=limit
        )
        owners = leads.owner_user_ids(session, found)
        return [lead_public(r, owners) for r in found]
