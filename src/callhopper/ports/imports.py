"""The import port: where :mod:`callhopper.core.importer` puts the rows it accepts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from callhopper.domain.contacts import NormalisedRow, Rejection, StoredRecord


class RecordSink(Protocol):
    """Where an import puts its rows. All calls belong to one transaction."""

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        """The subset of ``keys`` already used by records of the list."""
        ...

    def write(self, rows: Sequence[NormalisedRow]) -> None:
        """Store accepted rows as records of the list."""
        ...

    def stored_records(self, keys: Sequence[str]) -> dict[str, StoredRecord]:
        """The records of the list that have these keys, by key, locked until the end of
        the transaction (an import that updates them merges into what they hold)."""
        ...

    def update(self, rows: Sequence[tuple[StoredRecord, NormalisedRow]]) -> None:
        """Rewrite each record with its row: values, phones, time zone and (when the row
        names one) owner; the row's values are the record's merged with the file's."""
        ...

    def reject(self, rejections: Sequence[Rejection]) -> None:
        """Keep rejected rows' line numbers and reasons for the import report."""
        ...
