"""Callbacks scheduled by agents, and what happened on each record (contact history)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
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
from callhopper.domain.records import (
    OPEN_CALLBACK_STATUSES,
    CallbackKind,
    CallbackStatus,
    InteractionKind,
)
from callhopper.store.models.base import Base, sql_values
from callhopper.store.types import BigId

#: A callback that is still to happen: at most one per record and campaign.
_OPEN = f"status IN ({sql_values(OPEN_CALLBACK_STATUSES)})"


class Callback(Base):
    """A callback scheduled by an agent: to the scheduling agent (or the record's owner), or
    to any agent of the queue."""

    __tablename__ = "callbacks"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_values(CallbackKind)})", name="kind"),
        CheckConstraint(f"status IN ({sql_values(CallbackStatus)})", name="status"),
        Index(
            "uq_callbacks_pending",
            "campaign_id",
            "record_id",
            unique=True,
            sqlite_where=text(_OPEN),
            postgresql_where=text(_OPEN),
        ),
        Index("ix_callbacks_due", "campaign_id", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(BigId, ForeignKey("records.id", ondelete="CASCADE"))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    #: Who gets it: the scheduling agent, or the record's owner; ``NULL`` for any agent.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime]
    #: Another number to call, instead of the record's own.
    number: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=CallbackStatus.SCHEDULED.value)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Interaction(Base):
    """What happened on a record: calls dialled and wrap-ups, across campaigns (contact history)."""

    __tablename__ = "interactions"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_values(InteractionKind)})", name="kind"),
        Index("ix_interactions_record", "record_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int] = mapped_column(BigId)
    campaign_id: Mapped[int] = mapped_column(Integer)
    campaign_name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    #: The number dialled (E.164), for calls.
    number: Mapped[str | None] = mapped_column(String(32))
    #: The caller ID the call showed (E.164), when the campaign has caller IDs.
    caller_id: Mapped[str | None] = mapped_column(String(32))
    code: Mapped[str | None] = mapped_column(String(MAX_CODE_LENGTH))
    note: Mapped[str] = mapped_column(Text, default="")
    #: Field edits made at wrap-up: ``{column: [before, after]}``.
    edits: Mapped[dict[str, Any] | None]
