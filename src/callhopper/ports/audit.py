"""The audit-log ports: every ownership change and administrative action leaves an entry
(:class:`AuditLog`), which auditors read (:class:`AuditTrail`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from callhopper.domain.actors import Actor
from callhopper.domain.audit import AuditEntry, AuditQuery


class AuditLog(Protocol):
    """Appends entries in the current transaction, so that an entry commits with the change
    it describes (or not at all)."""

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
        """One entry: who (``actor``) did what (``action``, for example ``lead.owner``) to
        which target, with the state before and after and why."""
        ...


class AuditTrail(Protocol):
    """Reads the audit log."""

    def entries(self, query: AuditQuery) -> list[AuditEntry]:
        """The entries the query selects, newest first."""
        ...
