"""Worker leases: one process at a time runs a background job, whatever their number."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol


class WorkerLeases(Protocol):
    def take(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew the lease ``name`` for ``holder``; False while another holds it."""
        ...

    def give_up(self, name: str, holder: str) -> None: ...

    def expires_at(self, name: str) -> datetime | None:
        """When the lease ``name`` runs out (its last take plus its ttl); ``None`` when
        nobody has taken it."""
        ...
