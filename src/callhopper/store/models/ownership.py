"""Campaign ownership of the records of a shared list, open and past."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from callhopper.domain.campaign_ownership import ReleaseReason
from callhopper.domain.names import MAX_NAME_LENGTH
from callhopper.store.models.base import Base, sql_values
from callhopper.store.types import BigId


class RecordOwnership(Base):
    """Which campaign owns a record of a shared list, since when and until when.

    Rows are kept after their end (``released_at``) for the tracking report. At most one
    row per record is open; an open row whose ``expires_at`` has passed is over already
    and is closed by the next claim.
    """

    __tablename__ = "record_ownership"
    __table_args__ = (
        Index(
            "uq_record_ownership_open",
            "record_id",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
        Index(
            "ix_record_ownership_list_campaign",
            "list_id",
            "campaign_id",
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
        Index("ix_record_ownership_released", "list_id", "released_at"),
        CheckConstraint(
            f"release_reason IS NULL OR release_reason IN ({sql_values(ReleaseReason)})",
            name="release_reason",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("contact_lists.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(BigId, ForeignKey("records.id", ondelete="CASCADE"))
    #: No foreign key: the report still names a campaign deleted since.
    campaign_id: Mapped[int] = mapped_column(Integer)
    campaign_name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    owned_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    release_reason: Mapped[str | None] = mapped_column(String(16))
