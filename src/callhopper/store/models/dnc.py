"""Do-not-call lists, their numbers, and the lists each campaign checks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from callhopper.domain.names import MAX_NAME_LENGTH
from callhopper.store.models.base import Base


class DncList(Base):
    """A do-not-call list. A campaign's own list collects its *do not call* declines."""

    __tablename__ = "dnc_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: Set for a campaign's own list.
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), unique=True
    )
    created_at: Mapped[datetime]


class DncNumber(Base):
    __tablename__ = "dnc_numbers"
    __table_args__ = (Index("ix_dnc_numbers_e164", "e164"),)

    list_id: Mapped[int] = mapped_column(
        ForeignKey("dnc_lists.id", ondelete="CASCADE"), primary_key=True
    )
    e164: Mapped[str] = mapped_column(String(32), primary_key=True)
    added_at: Mapped[datetime]
    #: :class:`callhopper.domain.dnc.DncSource`.
    source: Mapped[str] = mapped_column(String(16))


class CampaignDncList(Base):
    __tablename__ = "campaign_dnc_lists"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    dnc_list_id: Mapped[int] = mapped_column(
        ForeignKey("dnc_lists.id", ondelete="CASCADE"), primary_key=True, index=True
    )
