"""The import job port: the imports of a list, and the steps that follow the rows of one
(its rows themselves go through :class:`~callhopper.ports.imports.RecordSink`)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from callhopper.domain.actors import Actor
from callhopper.domain.contacts import Rejection
from callhopper.domain.lists import ImportJob
from callhopper.ports.imports import RecordSink


class ImportCounts(Protocol):
    """What an import counted (:class:`callhopper.core.importer.ImportReport`)."""

    @property
    def rows_total(self) -> int: ...
    @property
    def rows_accepted(self) -> int: ...
    @property
    def rows_updated(self) -> int: ...
    @property
    def rows_rejected(self) -> int: ...


class ImportSink(RecordSink, Protocol):
    """A :class:`RecordSink` that remembers whether it updated records."""

    @property
    def has_updates(self) -> bool: ...


class ImportStore(Protocol):
    """Import jobs of a list, and the steps that follow the rows of one."""

    def start(
        self, list_id: int, actor_id: int | None, *, source: str, format: str, now: datetime
    ) -> int:
        """A new import job; returns its id."""
        ...

    def sink(self, list_id: int, import_id: int, *, now: datetime) -> ImportSink:
        """Where the import's rows go (in this transaction)."""
        ...

    def index_phones(self, import_id: int) -> None:
        """Index the numbers of the records the import stored."""
        ...

    def audit_owners(self, actor: Actor, import_id: int, *, now: datetime, updates: bool) -> None:
        """One ``record.owner`` audit entry per lead whose owner the import set or changed
        (``updates``: records it updated are audited only if their owner changed)."""
        ...

    def unstage_reowned(self) -> None:
        """Leads the import gave another owner leave the hoppers."""
        ...

    def drop_updates(self) -> None:
        """Forget which records the import updated."""
        ...

    def finish(self, import_id: int, report: ImportCounts, *, now: datetime) -> ImportJob:
        """Write the import's counts and end time."""
        ...

    def get(self, list_id: int, import_id: int) -> ImportJob:
        """An import of the list, or :class:`~callhopper.domain.errors.NotFound`."""
        ...

    def all(self, list_id: int) -> list[ImportJob]:
        """The list's imports, newest first."""
        ...

    def rejections(self, import_id: int, *, offset: int, limit: int) -> list[Rejection]:
        """The import's rejected rows, by line."""
        ...

    def record_ids(self, import_id: int) -> list[int]:
        """The records the import created, by id."""
        ...

    def lead_owners(self) -> tuple[dict[str, int], dict[str, int]]:
        """Active users who may own leads (their keys), by user id and by email key."""
        ...
