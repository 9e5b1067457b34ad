"""The hopper of lead-ownership campaigns, and the leases of background jobs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from callhopper.store.models.base import Base
from callhopper.store.types import BigId


class HopperEntry(Base):
    """A record staged for delivery in a lead-ownership campaign."""

    __tablename__ = "hopper"
    __table_args__ = (
        Index("ix_hopper_owner", "campaign_id", "owner_id", "position"),
        # The campaign's last (or first) position: where a load or a skip appends.
        Index("ix_hopper_position", "campaign_id", "position"),
    )

    #: No foreign key (migration 0013): ``delete_campaign`` deletes the campaign's entries,
    #: and each insert holds the campaign's row once (``store.hopper.while_campaign_exists``)
    #: instead of a key's check per entry. Unlogged on PostgreSQL: a crash empties the
    #: hopper, and the next load fills it again.
    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: No foreign key: the record is on the campaign's list, which cannot be deleted while
    #: the campaign exists, and the entry goes with the campaign. The key's check would
    #: lock each record a load adds (migration 0012).
    record_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The lead's owner when loaded; ``NULL`` for a general lead.
    owner_id: Mapped[int | None] = mapped_column(Integer)
    #: The skills (lead filter) a general lead was loaded for.
    group_key: Mapped[str | None] = mapped_column(String(64))
    #: Delivery order within an owner or the general pool (FIFO or LIFO).
    position: Mapped[int] = mapped_column(BigId)
    #: Inserted straight into the hopper by the lead API (``hopper=1``).
    direct: Mapped[bool] = mapped_column(Boolean, default=False)
    loaded_at: Mapped[datetime]


class WorkerLease(Base):
    """Which process runs a background job now (one hopper loader per campaign, …)."""

    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime]
