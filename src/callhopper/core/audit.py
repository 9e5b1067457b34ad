"""Reading the audit log: :class:`AuditService`."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from callhopper.domain.actors import Actor
from callhopper.domain.audit import AuditEntry, AuditQuery
from callhopper.domain.rights import Right
from callhopper.ports.transactions import UnitOfWork

#: The audited changes of campaign ownership: the ``ownership.*`` actions, and these.
CAMPAIGN_OWNERSHIP_PREFIX = "ownership."
CAMPAIGN_OWNERSHIP_ACTIONS = ("contact_list.ownership_settings",)


class AuditService:
    """The audit log as each reader may see it."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def entries(self, reader: Actor, query: AuditQuery) -> list[AuditEntry]:
        """The entries the query selects, newest first. A time without a zone is UTC. Changes
        of campaign ownership are seen only by readers with the right to control it."""
        query = dataclasses.replace(query, since=_aware(query.since), until=_aware(query.until))
        if not reader.can(Right.CONTACT_LIST_OWNERSHIP_CONTROL):
            query = dataclasses.replace(
                query,
                hidden_prefixes=(*query.hidden_prefixes, CAMPAIGN_OWNERSHIP_PREFIX),
                hidden_actions=(*query.hidden_actions, *CAMPAIGN_OWNERSHIP_ACTIONS),
            )
        with self.uow.read() as tx:
            return tx.audit_trail.entries(query)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
