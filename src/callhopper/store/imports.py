"""The import store (:class:`callhopper.ports.imports.ImportStore`): import jobs of a list,
their rejections, and the set-based steps that follow the rows of an import."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, bindparam, delete, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import column, table

from callhopper.domain.actors import Actor
from callhopper.domain.contacts import Rejection
from callhopper.domain.errors import NotFound
from callhopper.domain.lists import ImportJob
from callhopper.domain.records import OWNER_ACTION
from callhopper.domain.rights import Right
from callhopper.ports.import_jobs import ImportCounts
from callhopper.store.models import HopperEntry, ImportRejection, Record, User
from callhopper.store.models import ImportJob as ImportRow
from callhopper.store.records import (
    IMPORT_UPDATES,
    SqlRecordSink,
    drop_import_updates,
    index_phones,
)
from callhopper.store.types import UTCDateTime
from callhopper.store.users import actor_of

_JSON_OBJECT = {"postgresql": "jsonb_build_object", "sqlite": "json_object"}


def job_of(row: ImportRow) -> ImportJob:
    """The domain value of a stored import."""
    return ImportJob(
        import_id=row.id,
        list_id=row.list_id,
        source=row.source,
        format=row.format,
        started_at=row.started_at,
        finished_at=row.finished_at,
        rows_total=row.rows_total,
        rows_accepted=row.rows_accepted,
        rows_updated=row.rows_updated,
        rows_rejected=row.rows_rejected,
    )


class SqlImportStore:
    """Imports in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def start(
        self, list_id: int, actor_id: int | None, *, source: str, format: str, now: datetime
    ) -> int:
        job = ImportRow(
            list_id=list_id, actor_id=actor_id, source=source, format=format, started_at=now
        )
        self.session.add(job)
        self.session.flush()
        return job.id

    def sink(self, list_id: int, import_id: int, *, now: datetime) -> SqlRecordSink:
        return SqlRecordSink(self.session, list_id, import_id, now)

    def index_phones(self, import_id: int) -> None:
        self.session.flush()
        index_phones(self.session, import_id=import_id)

    def audit_owners(self, actor: Actor, import_id: int, *, now: datetime, updates: bool) -> None:
        """One audit entry per lead whose owner an import set or changed (every assignment
        is audited), shaped like every other ``record.owner`` entry: before and after
        ``{"owner_user_id": …}``. A record the import updated (``updates``: listed in
        ``IMPORT_UPDATES`` with its owner before) is audited only if its owner changed."""
        obj = _JSON_OBJECT[self.session.get_bind().dialect.name]
        if updates:
            before = f"{obj}('owner_user_id', old.user_id)"
            joins = (
                f"LEFT JOIN {IMPORT_UPDATES} iu ON iu.record_id = r.id "
                "LEFT JOIN users old ON old.id = iu.old_owner_id "
            )
            changed = "AND (iu.old_owner_id IS NULL OR iu.old_owner_id <> r.owner_id) "
        else:
            before, joins, changed = f"{obj}('owner_user_id', NULL)", "", ""
        self.session.execute(
            text(
                "INSERT INTO audit_log (at, actor_id, actor, action, target_type, target_id, "
                "before, after, reason) "
                f"SELECT :now, :actor_id, :actor, '{OWNER_ACTION}', 'record', "
                f"CAST(r.id AS VARCHAR(40)), {before}, {obj}('owner_user_id', u.user_id), "
                ":reason "
                f"FROM records r JOIN users u ON u.id = r.owner_id {joins}"
                f"WHERE r.import_id = :import_id {changed}ORDER BY r.id"
            ).bindparams(bindparam("now", type_=UTCDateTime())),
            {
                "now": now,
                "actor_id": actor.id,
                "actor": actor.user_id,
                "import_id": import_id,
                "reason": f"import {import_id}",
            },
        )

    def unstage_reowned(self) -> None:
        """Leads an import gave another owner leave the hopper, where they were staged for
        the old owner (or as general leads), as after any owner change; the next load
        re-enters them."""
        updated = table(
            IMPORT_UPDATES, column("record_id", BigInteger()), column("old_owner_id", Integer())
        )
        reowned = (
            select(updated.c.record_id)
            .join(Record, Record.id == updated.c.record_id)
            .where(Record.owner_id.is_distinct_from(updated.c.old_owner_id))
        )
        self.session.execute(delete(HopperEntry).where(HopperEntry.record_id.in_(reowned)))

    def drop_updates(self) -> None:
        drop_import_updates(self.session)

    def finish(self, import_id: int, report: ImportCounts, *, now: datetime) -> ImportJob:
        job = self.session.get(ImportRow, import_id)
        assert job is not None  # started in this transaction
        job.rows_total = report.rows_total
        job.rows_accepted = report.rows_accepted
        job.rows_updated = report.rows_updated
        job.rows_rejected = report.rows_rejected
        job.finished_at = now
        self.session.flush()
        return job_of(job)

    def get(self, list_id: int, import_id: int) -> ImportJob:
        job = self.session.get(ImportRow, import_id)
        if job is None or job.list_id != list_id:
            raise NotFound(f"no import {import_id} for list {list_id}", field="import_id")
        return job_of(job)

    def all(self, list_id: int) -> list[ImportJob]:
        rows = self.session.scalars(
            select(ImportRow).where(ImportRow.list_id == list_id).order_by(ImportRow.id.desc())
        )
        return [job_of(row) for row in rows]

    def rejections(self, import_id: int, *, offset: int, limit: int) -> list[Rejection]:
        rows = self.session.scalars(
            select(ImportRejection)
            .where(ImportRejection.import_id == import_id)
            .order_by(ImportRejection.line, ImportRejection.id)
            .offset(offset)
            .limit(limit)
        )
        return [Rejection(r.line, r.reason, r.column) for r in rows]

    def record_ids(self, import_id: int) -> list[int]:
        return list(
            self.session.scalars(
                select(Record.id).where(Record.import_id == import_id).order_by(Record.id)
            )
        )

    def lead_owners(self) -> tuple[dict[str, int], dict[str, int]]:
        agents = [
            u
            for u in self.session.scalars(select(User).where(User.active.is_(True)))
            if actor_of(self.session, u).can(Right.AGENT_WORK)
        ]
        return {u.user_id: u.id for u in agents}, {u.email_key: u.id for u in agents}
