"""Reading the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from callhopper.api.deps import DbDep, require
from callhopper.api.ids import BigIntId
from callhopper.api.schemas import AuditPublic
from callhopper.domain.actors import Actor
from callhopper.domain.rights import Right
from callhopper.store.audit import audit_query
from callhopper.store.models import AuditEntry

router = APIRouter(tags=["audit"])

#: Audited changes of campaign ownership beside the ``ownership.*`` actions.
CAMPAIGN_OWNERSHIP_ACTIONS = ("contact_list.ownership_settings",)

AuditReader = Annotated[Actor, Depends(require(Right.AUDIT_VIEW))]


@router.get("/audit", response_model=list[AuditPublic])
def read_audit(
    reader: AuditReader,
    db: DbDep,
    actor: Annotated[str | None, Query(description="user_id of the actor, or 'system'.")] = None,
    action: Annotated[
        str | None, Query(description="Exact action, or a prefix ending in '.' (e.g. 'user.').")
    ] = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: Annotated[datetime | None, Query(description="Inclusive, ISO 8601.")] = None,
    until: Annotated[datetime | None, Query(description="Exclusive, ISO 8601.")] = None,
    before_id: Annotated[
        BigIntId | None, Query(description="Page on: entries older than this id.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditPublic]:
    """Audit entries, newest first, filtered by every parameter given."""
    query = audit_query(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        since=_aware(since),
        until=_aware(until),
    )
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if not reader.can(Right.CONTACT_LIST_OWNERSHIP_CONTROL):
        # Campaign ownership is seen only with the right to control it (SPEC §6).
        query = query.where(
            AuditEntry.action.not_like("ownership.%"),
            AuditEntry.action.not_in(CAMPAIGN_OWNERSHIP_ACTIONS),
        )
    with db.read() as session:
        return [
            AuditPublic.model_validate(e, from_attributes=True)
            for e in session.scalars(query.limit(limit))
        ]


def _aware(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
