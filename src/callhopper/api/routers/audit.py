"""Reading the audit log."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from callhopper.api.deps import AuditDep, require
from callhopper.api.ids import BigIntId
from callhopper.api.schemas import AuditPublic
from callhopper.domain.actors import Actor
from callhopper.domain.audit import AuditQuery
from callhopper.domain.rights import Right

router = APIRouter(tags=["audit"])

AuditReader = Annotated[Actor, Depends(require(Right.AUDIT_VIEW))]


@router.get("/audit", response_model=list[AuditPublic])
def read_audit(
    reader: AuditReader,
    audit: AuditDep,
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
    query = AuditQuery(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        since=since,
        until=until,
        before_id=before_id,
        limit=limit,
    )
    return [AuditPublic(**dataclasses.asdict(e)) for e in audit.entries(reader, query)]
