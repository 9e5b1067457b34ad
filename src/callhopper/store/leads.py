"""The lead store (:class:`callhopper.ports.leads.LeadStore`): numbers the lead API checks
new leads against."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callhopper.store.models import RecordPhone

#: Numbers looked up per query (well under SQLite's bound-parameter limit).
_NUMBER_CHUNK = 500


class SqlLeadStore:
    """Leads in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def stored_numbers(self, list_id: int, numbers: Sequence[str]) -> dict[str, int]:
        stored: dict[str, int] = {}
        for start in range(0, len(numbers), _NUMBER_CHUNK):
            chunk = list(numbers[start : start + _NUMBER_CHUNK])
            for number, record_id in self.session.execute(
                select(RecordPhone.e164, func.min(RecordPhone.record_id))
                .where(RecordPhone.list_id == list_id, RecordPhone.e164.in_(chunk))
                .group_by(RecordPhone.e164)
            ):
                stored[number] = record_id
        return stored
