"""Workflow rules with their webhook outbox, staleness rules and inbound call routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from callhopper.domain.names import MAX_NAME_LENGTH
from callhopper.domain.records import WebhookStatus
from callhopper.store.models.base import Base, sql_values
from callhopper.store.types import BigId, JSONDoc


class WorkflowRule(Base):
    """Trigger (wrap-up codes on campaigns) → actions."""

    __tablename__ = "workflow_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: ``{"codes": [...], "campaign_ids": [...]}`` (an empty list means any).
    trigger: Mapped[dict[str, Any]]
    #: ``[{"type": "set_owner_to_agent"} | {"type": "clear_owner"} |
    #: {"type": "set_field", "field": …, "value": …} | {"type": "webhook", "url": …}]``
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc)
    #: The key that signs this rule's webhooks (HMAC-SHA256).
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookMessage(Base):
    """A webhook waiting to be sent: written with the change it reports, sent by a worker."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_values(WebhookStatus)})", name="status"),
        Index("ix_webhook_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("workflow_rules.id", ondelete="SET NULL")
    )
    url: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default=WebhookStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class StalenessRule(Base):
    """Release owned leads that go stale back to the general pool."""

    __tablename__ = "staleness_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    list_id: Mapped[int | None] = mapped_column(ForeignKey("contact_lists.id", ondelete="CASCADE"))
    #: Leads whose status (last wrap-up code) is one of these …
    statuses: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    #: … or that have not been called for this many days …
    not_called_days: Mapped[int | None] = mapped_column(Integer)
    #: … or whose owner is deactivated.
    owner_deactivated: Mapped[bool] = mapped_column(Boolean, default=False)
    every_minutes: Mapped[int] = mapped_column(Integer, default=60)
    last_run_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class InboundRoute(Base):
    """How calls to one of our numbers are routed."""

    __tablename__ = "inbound_routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The number called (E.164).
    number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), default="")
    #: Yes: an owner who is not available may be replaced by another agent.
    route_unavailable_agents: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Where calls go without an available owner: ``queue:<id>``, ``voicemail`` …
    fallback: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
