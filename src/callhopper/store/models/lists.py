"""Contact lists, their imports and their records (with every phone number of each)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from callhopper.domain.limits import MAX_CODE_LENGTH
from callhopper.domain.names import MAX_NAME_LENGTH
from callhopper.store.models.base import Base
from callhopper.store.types import BigId, JSONDoc


class ContactList(Base):
    __tablename__ = "contact_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: The list's :class:`callhopper.domain.contacts.ListSchema` as JSON.
    schema: Mapped[dict[str, Any]]
    #: :class:`callhopper.domain.campaign_ownership.OwnershipSettings` as JSON.
    ownership: Mapped[dict[str, Any]] = mapped_column(
        JSONDoc, default=dict, server_default=text("'{}'")
    )
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ImportJob(Base):
    """One import or append into a list, with its counts. Rejections are kept row by row."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(
        ForeignKey("contact_lists.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(500), default="")
    format: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_accepted: Mapped[int] = mapped_column(Integer, default=0)
    #: Of the rows accepted, how many updated a record with the same key.
    rows_updated: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)


class ImportRejection(Base):
    __tablename__ = "import_rejections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    #: CSV line number (the header is line 1), or the 1-based item number of a JSON batch.
    line: Mapped[int] = mapped_column(Integer)
    column: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_import_rejections_import_line", "import_id", "line"),)


class Record(Base):
    """One contact of a list: its values, normalised phones, time zone and lead owner."""

    __tablename__ = "records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("contact_lists.id", ondelete="CASCADE"))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id", ondelete="SET NULL"))
    #: Value of the list's key column, when it has one (duplicates are refused).
    key: Mapped[str | None] = mapped_column(String(500))
    #: Column values, all strings, keyed by column name.
    data: Mapped[dict[str, Any]]
    #: E.164 numbers aligned with the list's phone columns (``None`` where empty).
    phones: Mapped[list[str | None]] = mapped_column(JSONDoc)
    #: IANA zone of the contact, derived at import.
    tz: Mapped[str | None] = mapped_column(String(64))
    #: Lead owner: an agent, or none for the general pool.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: The campaign whose agent has the record out now, until when (any campaign's claim
    #: locks this row and re-reads these columns: one contact, one agent at a time).
    out_campaign_id: Mapped[int | None] = mapped_column(Integer)
    out_until: Mapped[datetime | None]
    #: The campaign owning the record (campaign ownership), mirrored from ``record_ownership`` for
    #: the same reason; ``owner_campaign_id`` set with no ``owner_until`` never expires.
    owner_campaign_id: Mapped[int | None] = mapped_column(Integer)
    owner_until: Mapped[datetime | None]
    #: The lead's status: its last wrap-up code in any campaign, and when it was last dialled.
    last_code: Mapped[str | None] = mapped_column(String(MAX_CODE_LENGTH))
    last_called_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_records_list_id", "list_id", "id"),
        Index(
            "uq_records_list_key",
            "list_id",
            "key",
            unique=True,
            sqlite_where=text("key IS NOT NULL"),
            postgresql_where=text("key IS NOT NULL"),
        ),
    )


class RecordPhone(Base):
    """Every normalised number of every record, for look-ups by number (DNC, inbound)."""

    __tablename__ = "record_phones"
    __table_args__ = (Index("ix_record_phones_e164", "e164", "list_id"),)

    record_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("records.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(Integer)
    e164: Mapped[str] = mapped_column(String(32))
