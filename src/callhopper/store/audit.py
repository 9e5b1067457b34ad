"""The audit log in SQL, written in the caller's transaction so that an entry commits with
the change it describes (:class:`SqlAuditLog`), and read by auditors (:class:`SqlAuditTrail`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select, insert, select
from sqlalchemy.orm import Session

from callhopper.domain.actors import Actor
from callhopper.domain.audit import AuditEntry, AuditQuery
from callhopper.store.models import AuditEntry as Entry
from callhopper.store.models import table_of


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
_INSERT = insert(table_of(Entry))


class SqlAuditTrail:
    """:class:`callhopper.ports.audit.AuditTrail` in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def entries(self, query: AuditQuery) -> list[AuditEntry]:
        rows = self.session.execute(_select(query).limit(query.limit))
        return [AuditEntry(*row) for row in rows]


def _select(query: AuditQuery) -> Select[Any]:
    """The entries matching every filter given, newest first."""
    entries = table_of(Entry)
    statement = select(
        entries.c.id,
        entries.c.at,
        entries.c.actor,
        entries.c.action,
        entries.c.target_type,
        entries.c.target_id,
        entries.c.before,
        entries.c.after,
        entries.c.reason,
    )
    if query.actor is not None:
        statement = statement.where(entries.c.actor == query.actor)
    if query.action is not None:
        # ``user.`` selects every user action; ``user.create`` only that one.
        if query.action.endswith("."):
            statement = statement.where(entries.c.action.startswith(query.action, autoescape=True))
        else:
            statement = statement.where(entries.c.action == query.action)
    if query.target_type is not None:
        statement = statement.where(entries.c.target_type == query.target_type)
    if query.target_id is not None:
        statement = statement.where(entries.c.target_id == query.target_id)
    if query.since is not None:
        statement = statement.where(entries.c.at >= query.since)
    if query.until is not None:
        statement = statement.where(entries.c.at < query.until)
    if query.before_id is not None:
        statement = statement.where(entries.c.id < query.before_id)
    for prefix in query.hidden_prefixes:
        statement = statement.where(~entries.c.action.startswith(prefix, autoescape=True))
    if query.hidden_actions:
        statement = statement.where(entries.c.action.not_in(query.hidden_actions))
    return statement.order_by(entries.c.id.desc())
