"""Contact lists, their records and their imports as the services see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callhopper.domain.campaign_ownership import OwnershipSettings
from callhopper.domain.contacts import ListSchema


@dataclass(frozen=True)
class ContactList:
    """A stored contact list."""

    id: int
    name: str
    description: str
    schema: ListSchema
    ownership: OwnershipSettings
    created_at: datetime
    updated_at: datetime

    def view(self) -> dict[str, Any]:
        """The list as its audit entries show it."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "schema": self.schema.model_dump(mode="json"),
        }


@dataclass(frozen=True)
class ListRecord:
    """A record (a lead) of a contact list."""

    id: int
    list_id: int
    key: str | None
    data: dict[str, str]
    phones: list[str | None]
    tz: str | None
    #: The lead owner's key and user id (None: the general pool).
    owner_id: int | None
    owner_user_id: str | None
    #: The last wrap-up code, in any campaign.
    last_code: str | None
    last_called_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ImportJob:
    """One import into a list, with its counts once finished."""

    import_id: int
    list_id: int
    source: str
    format: str
    started_at: datetime
    finished_at: datetime | None
    rows_total: int
    rows_accepted: int
    rows_updated: int
    rows_rejected: int
