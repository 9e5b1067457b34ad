"""The interfaces the core services need, implemented by adapters (``store``, ``telephony``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from callhopper.domain.contacts import NormalisedRow, Rejection


class RecordSink(Protocol):
    """Where an import puts its rows. All calls belong to one transaction."""

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        """The subset of ``keys`` already used by records of the list."""
        ...

    def write(self, rows: Sequence[NormalisedRow]) -> None:
        """Store accepted rows as records of the list."""
        ...

    def update(self, rows: Sequence[NormalisedRow]) -> None:
        """Replace the values of the records whose keys the rows carry."""
        ...

    def reject(self, rejections: Sequence[Rejection]) -> None:
        """Keep rejected rows' line numbers and reasons for the import report."""
        ...


class Clock(Protocol):
    """The current time, always an aware UTC datetime."""

    def now(self) -> datetime: ...
