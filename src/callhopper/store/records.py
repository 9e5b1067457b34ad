"""Contact records: bulk writing of imported records (``COPY`` on PostgreSQL,
``executemany`` on SQLite), edits of their fields, and the records of the
:class:`callhopper.ports.records.Records` port (:class:`SqlRecords`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session

from callhopper.domain.contacts import NormalisedRow, Rejection, StoredRecord
from callhopper.domain.dispensing import ContactRecord
from callhopper.domain.errors import NotFound
from callhopper.domain.records import InteractionKind
from callhopper.store.models import CampaignRecord, Interaction, Record, RecordPhone, table_of
from callhopper.store.types import UTCDateTime

_RECORD_COLUMNS = (
    "list_id",
    "import_id",
    "key",
    "data",
    "phones",
    "tz",
    "owner_id",
    "created_at",
    "updated_at",
)
_KEY_CHUNK = 500
#: The records an import updated, with their owner before it (for the owner audit).
IMPORT_UPDATES = "import_updates"


def dumps(value: Any) -> str:
    """Compact JSON, as stored in ``data`` and ``phones``."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sqlite_timestamp(value: datetime) -> str:
    """A UTC datetime in the text form SQLAlchemy uses for SQLite columns."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class SqlRecordSink:
    """A :class:`callhopper.ports.RecordSink` writing into the session's transaction."""

    def __init__(self, session: Session, list_id: int, import_id: int, now: datetime) -> None:
        self.session = session
        self.list_id = list_id
        self.import_id = import_id
        self.now = now
        self._dialect = session.get_bind().dialect.name
        self._dbapi: Any = session.connection().connection.driver_connection
        #: Whether :data:`IMPORT_UPDATES` holds this import's updated records.
        self.has_updates = False

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        if self._dialect == "postgresql":
            # One probe of the (list_id, key) index per key. A plain ``key = ANY(…)``
            # lets the planner, misled by the stale statistics of a table this very
            # transaction is filling, scan the whole list for every batch.
            return set(
                self.session.scalars(
                    text(
                        "SELECT k FROM unnest(CAST(:keys AS text[])) AS k CROSS JOIN LATERAL "
                        "(SELECT 1 FROM records r WHERE r.list_id = :list_id AND r.key = k "
                        "LIMIT 1) AS hit"
                    ),
                    {"keys": list(keys), "list_id": self.list_id},
                )
            )
        found: set[str] = set()
        for start in range(0, len(keys), _KEY_CHUNK):
            chunk = keys[start : start + _KEY_CHUNK]
            found.update(
                k
                for k in self.session.scalars(
                    select(Record.key).where(Record.list_id == self.list_id, Record.key.in_(chunk))
                )
                if k is not None
            )
        return found

    def write(self, rows: Sequence[NormalisedRow]) -> None:
        if self._dialect == "postgresql":
            self._copy(
                "records",
                _RECORD_COLUMNS,
                (
                    (
                        self.list_id,
                        self.import_id,
                        r.key,
                        dumps(r.data),
                        dumps(r.phones),
                        r.tz,
                        r.owner_id,
                        self.now,
                        self.now,
                    )
                    for r in rows
                ),
            )
            return
        stamp = sqlite_timestamp(self.now)
        cursor = self._dbapi.cursor()
        cursor.executemany(
            f"INSERT INTO records ({', '.join(_RECORD_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in _RECORD_COLUMNS)})",
            [
                (
                    self.list_id,
                    self.import_id,
                    r.key,
                    dumps(r.data),
                    dumps(r.phones),
                    r.tz,
                    r.owner_id,
                    stamp,
                    stamp,
                )
                for r in rows
            ],
        )
        cursor.close()

    def stored_records(self, keys: Sequence[str]) -> dict[str, StoredRecord]:
        """The list's records with these keys, locked (``FOR UPDATE``; on SQLite the
        import's write lock) so that nothing changes them between the merge and the
        update. Keys are locked in the order given: callers pass them sorted."""
        found: dict[str, StoredRecord] = {}
        if self._dialect == "postgresql":
            # One index probe per key, as in existing_keys.
            rows = self.session.execute(
                text(
                    "SELECT k, hit.id, hit.data, hit.owner_id "
                    "FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS u(k, n) "
                    "CROSS JOIN LATERAL (SELECT r.id, r.data, r.owner_id FROM records r "
                    "WHERE r.list_id = :list_id AND r.key = u.k FOR UPDATE) AS hit ORDER BY u.n"
                ),
                {"keys": list(keys), "list_id": self.list_id},
            )
            for key, record_id, data, owner_id in rows:
                found[key] = StoredRecord(record_id, data, owner_id)
            return found
        for start in range(0, len(keys), _KEY_CHUNK):
            chunk = keys[start : start + _KEY_CHUNK]
            for record_id, key, data, owner_id in self.session.execute(
                select(Record.id, Record.key, Record.data, Record.owner_id).where(
                    Record.list_id == self.list_id, Record.key.in_(chunk)
                )
            ):
                found[key] = StoredRecord(record_id, data, owner_id)
        return found

    def update(self, rows: Sequence[tuple[StoredRecord, NormalisedRow]]) -> None:
        """Rewrite these records with their merged rows (an import that updates
        duplicates); a row without an owner leaves the record's owner as it is."""
        if not rows:
            return
        json_type = "jsonb" if self._dialect == "postgresql" else "text"
        self.session.execute(
            text(
                f"UPDATE records SET data = CAST(:data AS {json_type}), "
                f"phones = CAST(:phones AS {json_type}), tz = :tz, import_id = :import_id, "
                "owner_id = coalesce(:owner, owner_id), updated_at = :now WHERE id = :id"
            ).bindparams(bindparam("now", type_=UTCDateTime())),
            [
                {
                    "id": record.id,
                    "data": dumps(r.data),
                    "phones": dumps(r.phones),
                    "tz": r.tz,
                    "owner": r.owner_id,
                    "import_id": self.import_id,
                    "now": self.now,
                }
                for record, r in rows
            ],
        )
        if not self.has_updates:
            create_import_updates(self.session)
            self.has_updates = True
        self.session.execute(
            text(f"INSERT INTO {IMPORT_UPDATES} (record_id, old_owner_id) VALUES (:id, :owner)"),
            [{"id": record.id, "owner": record.owner_id} for record, _ in rows],
        )

    def reject(self, rejections: Sequence[Rejection]) -> None:
        columns = ("import_id", "line", "column", "reason")
        values = [(self.import_id, r.line, r.column, r.reason) for r in rejections]
        if self._dialect == "postgresql":
            self._copy("import_rejections", columns, values)
            return
        cursor = self._dbapi.cursor()
        cursor.executemany(
            'INSERT INTO import_rejections (import_id, line, "column", reason) VALUES (?, ?, ?, ?)',
            values,
        )
        cursor.close()

    def _copy(self, table: str, columns: Sequence[str], rows: Any) -> None:
        quoted = ", ".join(f'"{c}"' for c in columns)
        with (
            self._dbapi.cursor() as cursor,
            cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)


def create_import_updates(session: Session) -> None:
    """An empty :data:`IMPORT_UPDATES` for this transaction (PostgreSQL drops it at commit,
    :func:`drop_import_updates` on SQLite)."""
    pg = session.get_bind().dialect.name == "postgresql"
    session.execute(
        text(
            f"CREATE TEMP TABLE IF NOT EXISTS {IMPORT_UPDATES} (record_id "
            f"{'BIGINT' if pg else 'INTEGER'} PRIMARY KEY, old_owner_id INTEGER)"
            + (" ON COMMIT DROP" if pg else "")
        )
    )
    session.execute(text(f"DELETE FROM {IMPORT_UPDATES}"))


def drop_import_updates(session: Session) -> None:
    schema = "pg_temp" if session.get_bind().dialect.name == "postgresql" else "temp"
    session.execute(text(f"DROP TABLE IF EXISTS {schema}.{IMPORT_UPDATES}"))


def record_data_update(
    session: Session, record_id: int, changes: dict[str, str], now: datetime
) -> None:
    """Set some values of a record in one statement, leaving the other columns as they are
    (another campaign may be editing other fields of the same record). Empty values are
    removed, as imports store them."""
    put = {k: v for k, v in changes.items() if v}
    drop = [k for k, v in changes.items() if not v]
    data: ColumnElement[Any]
    if session.get_bind().dialect.name == "postgresql":
        data = Record.data.op("-")(literal(drop, ARRAY(String()))).op("||")(literal(put, JSONB()))
    else:
        patch = {**put, **dict.fromkeys(drop)}  # RFC 7396: null deletes the key
        data = func.json_patch(Record.data, dumps(patch))
    session.execute(
        update(Record)
        .where(Record.id == record_id)
        .values(data=data, updated_at=now)
        .execution_options(synchronize_session=False)
    )


_PHONES_FROM_JSON = {
    "postgresql": (
        "INSERT INTO record_phones (record_id, position, list_id, e164) "
        "SELECT r.id, p.ordinality - 1, r.list_id, p.value FROM records r "
        "CROSS JOIN LATERAL jsonb_array_elements_text(r.phones) WITH ORDINALITY AS p "
        "WHERE p.value IS NOT NULL AND {where}"
    ),
    "sqlite": (
        "INSERT INTO record_phones (record_id, position, list_id, e164) "
        "SELECT r.id, p.key, r.list_id, p.value FROM records r, json_each(r.phones) p "
        "WHERE p.value IS NOT NULL AND {where}"
    ),
}


def index_phones(
    session: Session, *, import_id: int | None = None, record_id: int | None = None
) -> None:
    """(Re)build ``record_phones`` for the records an import wrote, or for one record."""
    if import_id is not None:
        where, params = "r.import_id = :key", {"key": import_id}
        scope = select(Record.id).where(Record.import_id == import_id)
    else:
        assert record_id is not None
        where, params = "r.id = :key", {"key": record_id}
        scope = select(Record.id).where(Record.id == record_id)
    session.execute(delete(RecordPhone).where(RecordPhone.record_id.in_(scope)))
    dialect = session.get_bind().dialect.name
    session.execute(text(_PHONES_FROM_JSON[dialect].format(where=where)), params)


_RECORDS = table_of(Record)
_RECORD = select(
    _RECORDS.c.id, _RECORDS.c.tz, _RECORDS.c.phones, _RECORDS.c.data, _RECORDS.c.owner_id
).where(_RECORDS.c.id == bindparam("record"))
_RECORD_LOCKED = _RECORD.with_for_update()
_INTERACTIONS = table_of(Interaction)
_CALL = insert(_INTERACTIONS).values(
    record_id=bindparam("record"),
    campaign_id=bindparam("campaign"),
    campaign_name=bindparam("name"),
    agent_id=bindparam("agent"),
    kind=InteractionKind.CALL.value,
    at=bindparam("now", type_=UTCDateTime()),
    number=bindparam("dialled"),
    caller_id=bindparam("shown"),
    note=bindparam("text"),
)


class SqlRecords:
    """Contact records in one session's transaction (:class:`callhopper.ports.records.Records`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, record_id: int, *, lock: bool = False) -> ContactRecord:
        query = _RECORD_LOCKED if lock else _RECORD
        row = self.session.execute(query, {"record": record_id}).one_or_none()
        if row is None:
            raise NotFound(f"no record {record_id}", field="record_id")
        return ContactRecord(
            id=int(row.id), tz=row.tz, phones=row.phones, data=row.data, owner_id=row.owner_id
        )

    def edit(self, record_id: int, changes: dict[str, str], now: datetime) -> None:
        record_data_update(self.session, record_id, changes, now)

    def add_call(
        self,
        *,
        campaign_id: int,
        campaign_name: str,
        record_id: int,
        agent_id: int | None,
        number: str,
        caller_id: str | None,
        note: str,
        now: datetime,
    ) -> None:
        params = {
            "record": record_id,
            "campaign": campaign_id,
            "name": campaign_name,
            "agent": agent_id,
            "now": now,
            "dialled": number,
            "shown": caller_id,
            "text": note,
        }
        self.session.execute(_CALL, params)

    def numbers_of_lease(self, campaign_id: int, record_id: int) -> list[str]:
        leased_at = self.session.scalar(
            select(CampaignRecord.leased_at).where(
                CampaignRecord.campaign_id == campaign_id, CampaignRecord.record_id == record_id
            )
        )
        dialled = self.session.scalar(
            select(Interaction.number)
            .where(
                Interaction.campaign_id == campaign_id,
                Interaction.record_id == record_id,
                Interaction.kind == InteractionKind.CALL.value,
                Interaction.at >= leased_at,
            )
            .order_by(Interaction.id.desc())
            .limit(1)
        )
        if dialled is not None:
            return [dialled]
        record = self.session.get(Record, record_id)
        return [n for n in record.phones if n] if record is not None else []
