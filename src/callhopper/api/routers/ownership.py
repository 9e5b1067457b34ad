"""The campaign ownership tab of a contact list, and its tracking report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from callhopper.api.deps import OwnershipDep, require, require_any
from callhopper.api.ids import IntId
from callhopper.api.schemas import (
    OwnerCountPublic,
    OwnershipSettingsChange,
    OwnershipTabPublic,
    OwnershipTrackingPublic,
    ReleaseIn,
    ReleasePublic,
)
from callhopper.domain.actors import Actor
from callhopper.domain.campaign_ownership import OwnershipSettings
from callhopper.domain.errors import InvalidInput
from callhopper.domain.rights import Right

router = APIRouter(tags=["campaign ownership"])

OwnershipControl = Annotated[Actor, Depends(require(Right.CONTACT_LIST_OWNERSHIP_CONTROL))]
ListManager = Annotated[Actor, Depends(require(Right.CONTACT_LIST_MANAGE))]
ListReader = Annotated[
    Actor, Depends(require_any(Right.CONTACT_LIST_MANAGE, Right.CAMPAIGN_MANAGE, Right.REPORT_VIEW))
]


@router.get("/contact-lists/{list_id}/ownership/settings", response_model=OwnershipSettings)
def get_settings(list_id: IntId, _actor: ListReader, ownership: OwnershipDep) -> OwnershipSettings:
    return ownership.settings(list_id)


@router.put("/contact-lists/{list_id}/ownership/settings", response_model=OwnershipSettings)
def put_settings(
    list_id: IntId, body: OwnershipSettingsChange, actor: ListManager, ownership: OwnershipDep
) -> OwnershipSettings:
    """Enable or disable campaign ownership and set its duration; the fields not sent keep
    their values.

    A new duration applies to every current claim: it expires at ``owned_at +
    duration`` (at once when that is past). Disabling keeps the duration and the current
    claims until they expire or are released; no campaign takes new ones. Enabling without
    a duration takes the stored one (422 when none was ever set).
    """
    return ownership.update_settings(actor, list_id, body.model_dump(exclude_unset=True))


@router.get("/contact-lists/{list_id}/ownership", response_model=OwnershipTabPublic)
def ownership_tab(
    list_id: IntId, _actor: OwnershipControl, ownership: OwnershipDep
) -> OwnershipTabPublic:
    """The campaigns that own records of the list now, with counts (ask again to refresh)."""
    tab = ownership.tab(list_id)
    return OwnershipTabPublic(
        list_id=tab.list_id,
        settings=tab.settings,
        campaigns=[OwnerCountPublic.model_validate(o, from_attributes=True) for o in tab.campaigns],
        total=tab.total,
    )


@router.post("/contact-lists/{list_id}/ownership/release", response_model=ReleasePublic)
def release(
    list_id: IntId, body: ReleaseIn, actor: OwnershipControl, ownership: OwnershipDep
) -> ReleasePublic:
    """Release every record owned by the given campaigns (``campaign_ids``) or by all
    (``all: true``): other campaigns on the list may take them at once."""
    if body.all == (body.campaign_ids is not None):
        raise InvalidInput("give campaign_ids, or all: true", field="campaign_ids")
    done = ownership.release(
        actor, list_id, None if body.all else body.campaign_ids, reason=body.reason
    )
    return ReleasePublic(released=done.released, total=done.total)


@router.get(
    "/reports/campaign-ownership",
    response_model=list[OwnershipTrackingPublic],
    tags=["reports"],
)
def tracking(
    _actor: OwnershipControl,
    ownership: OwnershipDep,
    list_id: Annotated[IntId | None, Query(description="One list (default: all).")] = None,
) -> list[OwnershipTrackingPublic]:
    """Per list and campaign: records owned, expiring in the next 24 h, released in the
    last 24 h."""
    return [
        OwnershipTrackingPublic.model_validate(row, from_attributes=True)
        for row in ownership.tracking(list_id)
    ]
