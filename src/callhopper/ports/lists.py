"""The contact list store: lists and their records."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from callhopper.domain.campaign_ownership import OwnershipSettings
from callhopper.domain.contacts import ListSchema, NormalisedRow
from callhopper.domain.lists import ContactList, ListRecord


class ContactListStore(Protocol):
    def get(self, list_id: int) -> ContactList:
        """The list, or :class:`~callhopper.domain.errors.NotFound`."""
        ...

    def by_name(self, name: str) -> ContactList:
        """The list with this name, or :class:`~callhopper.domain.errors.NotFound`."""
        ...

    def all(self) -> list[ContactList]:
        """Every list, by id."""
        ...

    def named(self, name: str) -> int | None:
        """The id of the list with this name, if any."""
        ...

    def record_count(self, list_id: int) -> int: ...

    def has_records(self, list_id: int) -> bool: ...

    def add(
        self, *, name: str, description: str, schema: ListSchema, now: datetime
    ) -> ContactList: ...

    def save(self, contact_list: ContactList) -> None:
        """Write the list's name, description, schema, ownership and update time."""
        ...

    def touch(self, list_id: int, *, now: datetime) -> None:
        """Set the list's update time."""
        ...

    def set_ownership(self, list_id: int, settings: OwnershipSettings, *, now: datetime) -> None:
        """Write the list's campaign ownership settings."""
        ...

    def delete(self, list_id: int) -> None:
        """Delete the list with its records and imports."""
        ...

    def record(self, list_id: int, record_id: int) -> ListRecord:
        """A record of the list, or :class:`~callhopper.domain.errors.NotFound`."""
        ...

    def lead(self, record_id: int) -> ListRecord:
        """A record of any list, or :class:`~callhopper.domain.errors.NotFound`."""
        ...

    def page(self, list_id: int, *, after_id: int, limit: int) -> list[ListRecord]:
        """The list's records after ``after_id``, by id."""
        ...

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
        """Records by exact field values and owner (``unowned``: the general pool)."""
        ...

    def key_used(self, list_id: int, key: str) -> int | None:
        """The record of the list with this key, if any."""
        ...

    def rewrite(self, record_id: int, row: NormalisedRow, *, now: datetime) -> ListRecord:
        """Store a record's new values, phones (indexed again), time zone and key."""
        ...
