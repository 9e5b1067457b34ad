"""The campaign ownership tab of a contact list, and its tracking report (SPEC §6)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from callhopper.api.deps import ClockDep, DbDep, require, require_any
from callhopper.api.ids import IntId
from callhopper.api.schemas import (
    OwnerCountPublic,
    OwnershipTabPublic,
    OwnershipTrackingPublic,
    ReleaseIn,
    ReleasePublic,
)
from callhopper.domain.actors import Actor
from callhopper.domain.campaign_ownership import OwnershipSettings
from callhopper.domain.errors import InvalidInput
from callhopper.domain.rights import Right
from callhopper.store import ownership
from callhopper.store.contact_lists import get_list
from callhopper.store.models import Campaign

router = APIRouter(tags=["campaign ownership"])

OwnershipControl = Annotated[Actor, Depends(require(Right.CONTACT_LIST_OWNERSHIP_CONTROL))]
ListManager = Annotated[Actor, Depends(require(Right.CONTACT_LIST_MANAGE))]
ListReader = Annotated[
    Actor, Depends(require_any(Right.CONTACT_LIST_MANAGE, Right.CAMPAIGN_MANAGE, Right.REPORT_VIEW))
]


@router.get("/contact-lists/{list_id}/ownership/settings", response_model=OwnershipSettings)
def get_settings(list_id: IntId, _actor: ListReader, db: DbDep) -> OwnershipSettings:
    with db.read() as session:
        return ownership.settings_of(get_list(session, list_id))


@router.put("/contact-lists/{list_id}/ownership/settings", response_model=OwnershipSettings)
def put_settings(
    list_id: IntId, body: OwnershipSettings, actor: ListManager, db: DbDep, clock: ClockDep
) -> OwnershipSettings:
    """Enable or disable campaign ownership and set its duration.

    A new duration applies to every current claim: it expires at ``owned_at +
    duration`` (at once when that is past). Disabling keeps current claims until they
    expire or are released; no campaign takes new ones.
    """
    with db.write() as session:
        contact_list = ownership.update_settings(session, actor, list_id, body, now=clock.now())
        return ownership.settings_of(contact_list)


@router.get("/contact-lists/{list_id}/ownership", response_model=OwnershipTabPublic)
def ownership_tab(
    list_id: IntId, _actor: OwnershipControl, db: DbDep, clock: ClockDep
) -> OwnershipTabPublic:
    """The campaigns that own records of the list now, with counts (ask again to refresh)."""
    with db.read() as session:
        contact_list = get_list(session, list_id)
        owners = ownership.owners(session, list_id, clock.now())
        return OwnershipTabPublic(
            list_id=list_id,
            settings=ownership.settings_of(contact_list),
            campaigns=[
                OwnerCountPublic(
                    campaign_id=o.campaign_id, campaign_name=o.campaign_name, records=o.records
                )
                for o in owners
            ],
            total=sum(o.records for o in owners),
        )


@router.post("/contact-lists/{list_id}/ownership/release", response_model=ReleasePublic)
def release(
    list_id: IntId, body: ReleaseIn, actor: OwnershipControl, db: DbDep, clock: ClockDep
) -> ReleasePublic:
    """Release every record owned by the given campaigns (``campaign_ids``) or by all
    (``all: true``): other campaigns on the list may take them at once."""
    if body.all == (body.campaign_ids is not None):
        raise InvalidInput("give campaign_ids, or all: true", field="campaign_ids")
    with db.write() as session:
        if body.campaign_ids:
            on_list = set(
                session.scalars(
                    select(Campaign.id).where(
                        Campaign.list_id == list_id, Campaign.id.in_(body.campaign_ids)
                    )
                )
            )
            unknown = [str(c) for c in body.campaign_ids if c not in on_list]
            if unknown:
                raise InvalidInput(
                    f"no campaign {', '.join(unknown)} uses contact list {list_id}",
                    field="campaign_ids",
                )
        counts = ownership.release(
            session,
            actor,
            list_id,
            None if body.all else body.campaign_ids,
            now=clock.now(),
            reason=body.reason.strip() or f"released by {actor.user_id}",
        )
    return ReleasePublic(released=counts, total=sum(counts.values()))


@router.get(
    "/reports/campaign-ownership",
    response_model=list[OwnershipTrackingPublic],
    tags=["reports"],
)
def tracking(
    _actor: OwnershipControl,
    db: DbDep,
    clock: ClockDep,
    list_id: Annotated[IntId | None, Query(description="One list (default: all).")] = None,
) -> list[OwnershipTrackingPublic]:
    """Per list and campaign: records owned, expiring in the next 24 h, released in the
    last 24 h."""
    with db.read() as session:
        return [
            OwnershipTrackingPublic(**vars(row))
            for row in ownership.tracking(session, clock.now(), list_id)
        ]
