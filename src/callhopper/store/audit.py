"""The audit log, written in the caller's transaction so it commits with the change."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select, insert, select
from sqlalchemy.orm import Session

from callhopper.domain.actors import Actor
from callhopper.store.models import AuditEntry, table_of


def audit(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object,
    *,
    now: datetime,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str = "",
) -> None:
    """Add one audit entry to the current transaction (written now, after any pending ORM
    changes, so that entries keep the order of the changes they describe)."""
    entry: dict[str, Any] = {
        "at": now,
        "actor_id": actor.id,
        "actor": actor.user_id,
        "action": action,
        "target_type": target_type,
        "target_id": str(target_id),
        "reason": reason,
    }
    # A document left out is SQL NULL (a None given to a JSON column would be JSON null).
    if before is not None:
        entry["before"] = dict(before)
    if after is not None:
        entry["after"] = dict(after)
    session.execute(_INSERT, entry)


class SqlAuditLog:
    """:class:`callhopper.ports.audit.AuditLog` in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        actor: Actor,
        action: str,
        target_type: str,
        target_id: object,
        *,
        now: datetime,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
        reason: str = "",
    ) -> None:
        audit(
            self.session,
            actor,
            action,
            target_type,
            target_id,
            now=now,
            before=before,
            after=after,
            reason=reason,
        )


# A Core INSERT built once: an ORM object per entry costs a unit-of-work flush on hot paths
# (every wrap-up that claims a record for its campaign writes one).
_INSERT = insert(table_of(AuditEntry))


def audit_query(
    *,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[AuditEntry]:
    """Entries matching every filter given, newest first."""
    query = select(AuditEntry)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if action is not None:
        # ``user.`` selects every user action; ``user.create`` only that one.
        if action.endswith("."):
            query = query.where(AuditEntry.action.startswith(action, autoescape=True))
        else:
            query = query.where(AuditEntry.action == action)
    if target_type is not None:
        query = query.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        query = query.where(AuditEntry.target_id == target_id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    return query.order_by(AuditEntry.id.desc())
