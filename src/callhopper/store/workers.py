"""Leases that make one process at a time run a background job (e.g. one hopper loader per
campaign), whatever the number of server processes. A holder that dies loses its lease
when it expires; no lock outlives its process."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from callhopper.store.models import WorkerLease
from callhopper.store.types import UTCDateTime

_TAKE = text(
    "INSERT INTO worker_leases (name, holder, expires_at) VALUES (:name, :holder, :until) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE worker_leases.holder = excluded.holder OR worker_leases.expires_at <= :now "
    "RETURNING holder"
).bindparams(bindparam("until", type_=UTCDateTime()), bindparam("now", type_=UTCDateTime()))


def take(session: Session, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the lease ``name`` for ``holder``; False while another holds it."""
    got = session.scalar(_TAKE, {"name": name, "holder": holder, "until": now + ttl, "now": now})
    return bool(got == holder)


def give_up(session: Session, name: str, holder: str) -> None:
    session.execute(
        text("DELETE FROM worker_leases WHERE name = :name AND holder = :holder"),
        {"name": name, "holder": holder},
    )


class SqlWorkerLeases:
    """Worker leases in a session's transaction (:class:`callhopper.ports.workers.WorkerLeases`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def take(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        return take(self.session, name, holder, now, ttl)

    def give_up(self, name: str, holder: str) -> None:
        give_up(self.session, name, holder)

    def expires_at(self, name: str) -> datetime | None:
        found = select(WorkerLease.expires_at).where(WorkerLease.name == name)
        return self.session.scalar(found)
