"""Calls the dialing engine placed, and what became of each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from callhopper.domain.dialer import CallResult
from callhopper.store.models.base import Base, sql_values
from callhopper.store.types import BigId


class Call(Base):
    """One call of an automatic campaign, from its dial to its end.

    No foreign key to the campaign or the record: like the history of deliveries, a call
    stays when its campaign is deleted (the abandon-rate report counts it)."""

    __tablename__ = "calls"
    __table_args__ = (
        CheckConstraint(f"result IS NULL OR result IN ({sql_values(CallResult)})", name="result"),
        Index("ix_calls_campaign_placed", "campaign_id", "placed_at"),
        Index("ix_calls_record", "record_id"),
        # Calls without a result yet: what a process taking a campaign over recovers.
        Index(
            "ix_calls_open",
            "campaign_id",
            sqlite_where=text("result IS NULL"),
            postgresql_where=text("result IS NULL"),
        ),
    )

    #: The engine's call id (:data:`callhopper.domain.calls.CallId`).
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(Integer)
    record_id: Mapped[int] = mapped_column(BigId)
    number: Mapped[str] = mapped_column(String(32))
    caller_id: Mapped[str] = mapped_column(String(32))
    #: The process that placed it (its worker-lease holder name).
    engine: Mapped[str] = mapped_column(String(100))
    #: The agent the call was dialled for (progressive) or connected to.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    placed_at: Mapped[datetime]
    ring_timeout_s: Mapped[int] = mapped_column(Integer)
    answered_at: Mapped[datetime | None]
    #: ``person`` or ``machine``, as answering-machine detection reported it.
    answered_by: Mapped[str | None] = mapped_column(String(16))
    connected_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(String(16))
    #: The network's reason for a failure (a SIP status).
    code: Mapped[str | None] = mapped_column(String(16))
    #: The abandoned-call (or machine) message was played.
    message_played: Mapped[bool] = mapped_column(Boolean, default=False)
