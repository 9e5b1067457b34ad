"""The contact list store (:class:`callhopper.ports.lists.ContactListStore`): lists and
their records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from callhopper.domain.campaign_ownership import OwnershipSettings
from callhopper.domain.contacts import ListSchema, NormalisedRow
from callhopper.domain.errors import NotFound
from callhopper.domain.lists import ContactList, ListRecord
from callhopper.store.models import ContactList as ListRow
from callhopper.store.models import Record, User
from callhopper.store.records import index_phones

_OWNER = aliased(User, name="owner")


def list_of(row: ListRow) -> ContactList:
    """The domain value of a stored list."""
    return ContactList(
        id=row.id,
        name=row.name,
        description=row.description,
        schema=ListSchema.model_validate(row.schema),
        ownership=OwnershipSettings.model_validate(row.ownership or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def record_of(row: Record, owner_user_id: str | None) -> ListRecord:
    """The domain value of a stored record, with its owner's user id."""
    return ListRecord(
        id=row.id,
        list_id=row.list_id,
        key=row.key,
        data=dict(row.data),
        phones=list(row.phones),
        tz=row.tz,
        owner_id=row.owner_id,
        owner_user_id=owner_user_id,
        last_code=row.last_code,
        last_called_at=row.last_called_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlContactListStore:
    """Contact lists and records in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _row(self, list_id: int) -> ListRow:
        row = self.session.get(ListRow, list_id)
        if row is None:
            raise NotFound(f"no contact list {list_id}", field="list_id")
        return row

    def get(self, list_id: int) -> ContactList:
        return list_of(self._row(list_id))

    def by_name(self, name: str) -> ContactList:
        row = self.session.scalar(select(ListRow).where(ListRow.name == name))
        if row is None:
            raise NotFound(f"no contact list named {name!r}", field="name")
        return list_of(row)

    def all(self) -> list[ContactList]:
        return [list_of(r) for r in self.session.scalars(select(ListRow).order_by(ListRow.id))]

    def named(self, name: str) -> int | None:
        return self.session.scalar(select(ListRow.id).where(ListRow.name == name))

    def record_count(self, list_id: int) -> int:
        count = self.session.scalar(
            select(func.count()).select_from(Record).where(Record.list_id == list_id)
        )
        return count or 0

    def has_records(self, list_id: int) -> bool:
        found = self.session.scalar(select(Record.id).where(Record.list_id == list_id).limit(1))
        return found is not None

    def add(self, *, name: str, description: str, schema: ListSchema, now: datetime) -> ContactList:
        row = ListRow(
            name=name,
            description=description,
            schema=schema.model_dump(mode="json"),
            created_at=now,
            updated_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return list_of(row)

    def save(self, contact_list: ContactList) -> None:
        row = self._row(contact_list.id)
        row.name = contact_list.name
        row.description = contact_list.description
        row.schema = contact_list.schema.model_dump(mode="json")
        row.updated_at = contact_list.updated_at
        self.session.flush()

    def touch(self, list_id: int, *, now: datetime) -> None:
        self._row(list_id).updated_at = now

    def set_ownership(self, list_id: int, settings: OwnershipSettings, *, now: datetime) -> None:
        row = self._row(list_id)
        row.ownership = settings.model_dump(mode="json")
        row.updated_at = now
        self.session.flush()

    def delete(self, list_id: int) -> None:
        self.session.delete(self._row(list_id))
        self.session.flush()

    def _records(self, *conditions: object) -> list[ListRecord]:
        return [
            record_of(row, owner)
            for row, owner in self.session.execute(
                select(Record, _OWNER.user_id)
                .outerjoin(_OWNER, _OWNER.id == Record.owner_id)
                .where(*conditions)  # type: ignore[arg-type]
                .order_by(Record.id)
            )
        ]

    def record(self, list_id: int, record_id: int) -> ListRecord:
        found = self._records(Record.id == record_id, Record.list_id == list_id)
        if not found:
            raise NotFound(f"no record {record_id} in list {list_id}", field="record_id")
        return found[0]

    def lead(self, record_id: int) -> ListRecord:
        found = self._records(Record.id == record_id)
        if not found:
            raise NotFound(f"no lead {record_id}", field="record_id")
        return found[0]

    def page(self, list_id: int, *, after_id: int, limit: int) -> list[ListRecord]:
        query = (
            select(Record, _OWNER.user_id)
            .outerjoin(_OWNER, _OWNER.id == Record.owner_id)
            .where(Record.list_id == list_id, Record.id > after_id)
            .order_by(Record.id)
            .limit(limit)
        )
        return [record_of(row, owner) for row, owner in self.session.execute(query)]

    def search(
        self,
        *,
        list_id: int | None,
        owner_id: int | None,
        unowned: bool,
        fields: dict[str, str],
        after_id: int,
        limit: int,
    ) -> list[ListRecord]:
        query = (
            select(Record, _OWNER.user_id)
            .outerjoin(_OWNER, _OWNER.id == Record.owner_id)
            .where(Record.id > after_id)
            .order_by(Record.id)
            .limit(limit)
        )
        if list_id is not None:
            query = query.where(Record.list_id == list_id)
        if unowned:
            query = query.where(Record.owner_id.is_(None))
        elif owner_id is not None:
            query = query.where(Record.owner_id == owner_id)
        for name, value in fields.items():
            query = query.where(Record.data[name].as_string() == value)
        return [record_of(row, owner) for row, owner in self.session.execute(query)]

    def key_used(self, list_id: int, key: str) -> int | None:
        return self.session.scalar(
            select(Record.id).where(Record.list_id == list_id, Record.key == key)
        )

    def rewrite(self, record_id: int, row: NormalisedRow, *, now: datetime) -> ListRecord:
        record = self.session.get(Record, record_id)
        if record is None:
            raise NotFound(f"no lead {record_id}", field="record_id")
        record.data = row.data
        record.phones = row.phones
        record.tz = row.tz
        record.key = row.key
        record.updated_at = now
        self.session.flush()
        index_phones(self.session, record_id=record.id)
        owner = self.session.get(User, record.owner_id) if record.owner_id is not None else None
        return record_of(record, owner.user_id if owner is not None else None)
