"""Agents at work: logged into campaigns, and ready or not on their channels."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from callhopper.domain.campaigns import Channel
from callhopper.store.models.base import Base, sql_values


class AgentSession(Base):
    """An agent logged into a campaign."""

    __tablename__ = "agent_sessions"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    logged_in_at: Mapped[datetime]
    #: False after Done and Stop, until the next Get Record.
    receiving: Mapped[bool] = mapped_column(Boolean, default=True)
    #: When ``receiving`` last went on (the login, or Get Record after a Stop): with the
    #: agent's last release and ready time, how long the pusher has kept them waiting.
    receiving_since: Mapped[datetime]


class AgentChannel(Base):
    """An agent's ready / not ready state on a channel."""

    __tablename__ = "agent_channels"
    __table_args__ = (CheckConstraint(f"channel IN ({sql_values(Channel)})", name="channel"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    ready: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime]
