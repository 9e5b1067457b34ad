""" "Why not?": whether a record can be delivered now in a campaign, and why not."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from callhopper.api.deps import EligibilityDep, require_any
from callhopper.api.ids import BigIntId, IntId
from callhopper.core.eligibility import READERS
from callhopper.domain.actors import Actor
from callhopper.domain.eligibility import BlockReason

router = APIRouter(tags=["campaigns"])

Reader = Annotated[Actor, Depends(require_any(*READERS))]


class BlockerPublic(BaseModel):
    reason: BlockReason
    until: datetime | None = Field(
        description="When this reason ends by itself (UTC); null when it does not."
    )
    detail: dict[str, Any] = Field(
        description="Its particulars: the agent (user_id), the other campaign, the contact's "
        "zone and the local time the calling window opens, the numbers on a list, …"
    )


class EligibilityPublic(BaseModel):
    campaign_id: int
    record_id: int
    deliverable: bool = Field(
        description="Whether a Get Record (or push) could deliver the record now."
    )
    blockers: list[BlockerPublic] = Field(description="Every reason it cannot; empty when it can.")


@router.get(
    "/campaigns/{campaign_id}/records/{record_id}/eligibility", response_model=EligibilityPublic
)
def eligibility(
    campaign_id: IntId, record_id: BigIntId, actor: Reader, service: EligibilityDep
) -> EligibilityPublic:
    """Why not? Whether the record can be delivered (or dialled) now in the campaign and,
    if not, every reason, with its end where it has one. The answer evaluates the claim's
    own conditions for this record."""
    found = service.explain(actor, campaign_id, record_id)
    return EligibilityPublic(
        campaign_id=found.campaign_id,
        record_id=found.record_id,
        deliverable=found.deliverable,
        blockers=[
            BlockerPublic(reason=b.reason, until=b.until, detail=dict(b.detail))
            for b in found.blockers
        ],
    )
