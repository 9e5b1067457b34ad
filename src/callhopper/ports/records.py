"""The records port: contact records as the dispensing core reads and changes them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from callhopper.domain.dispensing import ContactRecord


class Records(Protocol):
    """Contact records of the lists, shared by every campaign of a list."""

    def get(self, record_id: int, *, lock: bool = False) -> ContactRecord:
        """The record (``lock``: its row held until the transaction ends, which orders a
        call against other campaigns' claims and wrap-ups of the same contact);
        :class:`~callhopper.domain.errors.NotFound` if there is none."""
        ...

    def edit(self, record_id: int, changes: dict[str, str], now: datetime) -> None:
        """Set some values of the record, leaving the others as they are (an empty value
        removes the field)."""
        ...

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
        """A call in the contact's history."""
        ...

    def numbers_of_lease(self, campaign_id: int, record_id: int) -> list[str]:
        """The numbers an agent's *do not call* covers: the one dialled during this
        delivery, else every number of the record."""
        ...
