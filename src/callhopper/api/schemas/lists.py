"""Contact lists, their imports and their records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from callhopper.api.schemas.base import Body, Changes, Description, Identifier, Name
from callhopper.api.schemas.ownership import CampaignOwnerPublic
from callhopper.domain.campaign_ownership import OwnershipSettings
from callhopper.domain.contacts import ColumnSpec, OnDuplicate, PhoneColumnSpec, TimezoneSource


class ListSchemaIn(Body):
    columns: list[ColumnSpec | Identifier] = Field(
        min_length=1, description="Column names, or full column specs (type, required, editable)."
    )
    phone_columns: list[PhoneColumnSpec | Identifier] = Field(min_length=1)
    timezone_source: TimezoneSource | None = None
    agent_owned_column: Identifier | None = None
    lead_owner_column: Identifier | None = Field(
        None, description="Column naming each lead's owner (user id or email), set at import."
    )
    key_column: Identifier | None = None
    default_region: Identifier | None = Field(
        None, description="Unset: the server's default region."
    )
    default_timezone: Identifier | None = None


class ContactListCreate(ListSchemaIn):
    name: Name
    description: Description = ""


class ContactListUpdate(Changes):
    name: Name | None = None
    description: Description | None = None
    schema_: ListSchemaIn | None = Field(None, alias="schema")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ContactListPublic(BaseModel):
    id: int
    name: str
    description: str
    columns: list[ColumnSpec]
    phone_columns: list[PhoneColumnSpec]
    timezone_source: TimezoneSource | None
    agent_owned_column: str | None
    lead_owner_column: str | None
    key_column: str | None
    default_region: str
    default_timezone: str | None
    ownership: OwnershipSettings = Field(
        description="Campaign ownership of records: the first campaign that makes a valid attempt "
        "on a record owns it for this long, or without expiry."
    )
    record_count: int
    created_at: datetime
    updated_at: datetime


class RejectionPublic(BaseModel):
    line: int = Field(description="CSV line (header = 1), or 1-based item number of a JSON batch.")
    column: str | None
    reason: str


class ImportPublic(BaseModel):
    import_id: int
    list_id: int
    source: str
    format: str
    started_at: datetime = Field(description="When the import began.")
    finished_at: datetime | None = Field(
        description="When its last row was stored, in the transaction that committed it."
    )
    rows_total: int
    rows_accepted: int = Field(description="Rows stored: new records, plus records updated.")
    rows_updated: int = Field(description="Rows that updated a record with the same key.")
    rows_rejected: int


class ZoneFallbackPublic(BaseModel):
    """A row stored with a fallback time zone: its time-zone column named none."""

    line: int = Field(description="CSV line (header = 1), or 1-based item number of a JSON batch.")
    column: str = Field(description="The time-zone column.")
    value: str = Field(description="Its value in the row, which names no zone.")
    reason: str
    zone: str = Field(description="The zone the record got instead.")
    zone_from: str = Field(
        description="Where that zone came from: a phone number's prefix, or the list's "
        "default time zone."
    )


class ImportReportPublic(ImportPublic):
    rejections: list[RejectionPublic]
    rejections_truncated: bool = Field(
        description="True when more rejections exist than listed here; page through "
        "GET /contact-lists/{list_id}/imports/{import_id}/rejections."
    )
    rows_warned: int = Field(
        description="Rows stored, but with a fallback time zone (see warnings)."
    )
    warnings: list[ZoneFallbackPublic] = Field(
        description="The first 1,000 rows stored with a fallback time zone, by line."
    )


class RecordsIn(Body):
    checked_per_item = frozenset({"records"})

    records: list[dict[str, Any]] = Field(min_length=1, max_length=10000)
    on_duplicate: OnDuplicate = Field(
        OnDuplicate.REJECT,
        description="A key already in the list: reject the row, or update the record.",
    )


class RecordUpdate(Changes):
    data: dict[str, Any] = Field(
        min_length=1, description="Column → new value (empty or null clears it)."
    )


class RecordPublic(BaseModel):
    id: int
    list_id: int
    key: str | None
    data: dict[str, str]
    phones: list[str | None] = Field(description="E.164, one per phone column, in dialling order.")
    phone_extensions: list[str | None] = Field(
        description="The extension written with each of those numbers (ext. 12, x12, #12, "
        ";ext=12), or null."
    )
    tz: str | None
    owner_user_id: str | None
    created_at: datetime
    updated_at: datetime
    campaign_owner: CampaignOwnerPublic | None = Field(
        None,
        description="The campaign that owns the record now (campaign ownership); shown only "
        "to users with contact_list.ownership_control.",
    )
