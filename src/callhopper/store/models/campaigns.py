"""Campaigns, their records as each campaign sees them, the queue snapshot of the agents who
may work them, and the history of deliveries."""

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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from callhopper.domain.campaigns import CampaignState, DialingMode
from callhopper.domain.limits import MAX_CODE_LENGTH
from callhopper.domain.names import MAX_NAME_LENGTH
from callhopper.domain.ownership import OwnerOrder
from callhopper.domain.records import DELIVERABLE_STATUSES, RecordStatus
from callhopper.store.models.base import Base, sql_values
from callhopper.store.types import BigId, JSONDoc

#: Records in the fresh order: ready, or leased (a claim takes those whose lease has run
#: out).
_DELIVERABLE = f"status IN ({sql_values(DELIVERABLE_STATUSES)})"

#: Claim indexes of records without an owner snapshot (PostgreSQL only): name, order, state.
POOL_CLAIM_INDEXES = (
    ("fresh", "rank", _DELIVERABLE),
    ("retry", "retry_at", "status = 'waiting' AND retry_at IS NOT NULL"),
    ("blocked", "blocked_until", "status = 'blocked'"),
)


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(f"mode IN ({sql_values(DialingMode)})", name="mode"),
        CheckConstraint(f"state IN ({sql_values(CampaignState)})", name="state"),
        CheckConstraint(f"owner_order IN ({sql_values(OwnerOrder)})", name="owner_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    list_id: Mapped[int] = mapped_column(ForeignKey("contact_lists.id"), index=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"), index=True)
    wrapup_set_id: Mapped[int] = mapped_column(ForeignKey("wrapup_code_sets.id"), index=True)
    mode: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=CampaignState.OFF.value)
    #: The list's agent-owned column this campaign delivers by; fixed at creation.
    agent_owned_column: Mapped[str | None] = mapped_column(String(200))
    owner_order: Mapped[str] = mapped_column(String(16), default=OwnerOrder.EMAIL_FIRST.value)
    #: Contact sorting: ``[{"column": …, "descending": …}, …]``.
    sort: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    #: :class:`callhopper.domain.calling_window.CallingWindow` as JSON.
    calling_window: Mapped[dict[str, Any]]
    #: :class:`callhopper.domain.campaigns.CampaignSettings` as JSON.
    settings: Mapped[dict[str, Any]]
    #: Passes over the list so far; recycle starts the next one.
    pass_no: Mapped[int] = mapped_column(Integer, default=0)
    #: Lead ownership with a per-agent hopper; fixed at creation.
    enforce_lead_ownership: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    #: The time zones of the campaign's contacts: a claim binds only the open ones.
    zones: Mapped[list[str]] = mapped_column(JSONDoc, default=list, server_default="[]")
    started_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    recycled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    #: Bumped by triggers on every change to the campaign's row, its list's row or its
    #: wrap-up codes: what a process's cached context of the campaign is checked against.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class CampaignRecord(Base):
    """A record as one campaign sees it: its owner snapshot, lease, order and progress.

    ``agent_id`` is the owner snapshot (agent-owned campaigns) and ``lease_agent_id``
    the agent the record is delivered to right now: two separate fields, so that
    giving a record back never touches its owner.
    """

    __tablename__ = "campaign_records"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_values(RecordStatus)})", name="status"),
        CheckConstraint(
            # A leased record without an agent is leased to the dialer: a predictive call
            # in flight, before it is connected to an agent.
            "(status = 'leased' AND lease_expires_at IS NOT NULL)"
            " OR (status <> 'leased' AND lease_agent_id IS NULL AND lease_expires_at IS NULL)",
            name="lease",
        ),
        # An owned record is only ever leased to its owner, in the schema too.
        CheckConstraint(
            "agent_id IS NULL OR lease_agent_id IS NULL OR lease_agent_id = agent_id",
            name="owner_lease",
        ),
        CheckConstraint("(status = 'error') = (error IS NOT NULL)", name="error"),
        CheckConstraint("status = 'blocked' OR blocked_until IS NULL", name="blocked"),
        Index(
            "ix_campaign_records_fresh",
            "campaign_id",
            "agent_id",
            "rank",
            sqlite_where=text(_DELIVERABLE),
            postgresql_where=text(_DELIVERABLE),
        ),
        Index(
            "ix_campaign_records_retry",
            "campaign_id",
            "agent_id",
            "retry_at",
            sqlite_where=text("status = 'waiting' AND retry_at IS NOT NULL"),
            postgresql_where=text("status = 'waiting' AND retry_at IS NOT NULL"),
        ),
        Index(
            "uq_campaign_records_one_lease_per_agent",
            "campaign_id",
            "lease_agent_id",
            unique=True,
            sqlite_where=text("status = 'leased'"),
            postgresql_where=text("status = 'leased'"),
        ),
        Index(
            "ix_campaign_records_blocked",
            "campaign_id",
            "agent_id",
            "blocked_until",
            sqlite_where=text("status = 'blocked'"),
            postgresql_where=text("status = 'blocked'"),
        ),
        # The same three orders for records without an owner snapshot (campaigns without an
        # agent-owned column), on PostgreSQL: it does not read index order past an ``IS NULL``
        # column, so ``agent_id IS NULL … ORDER BY rank`` would sort every ready record of the
        # campaign. (SQLite treats ``IS NULL`` as an equality and walks the indexes above.)
        *(
            Index(
                f"ix_campaign_records_{name}_pool",
                "campaign_id",
                column,
                postgresql_where=text(f"{where} AND agent_id IS NULL"),
            ).ddl_if(dialect="postgresql")
            for name, column, where in POOL_CLAIM_INDEXES
        ),
        Index("ix_campaign_records_record", "record_id"),
        Index("ix_campaign_records_agent", "campaign_id", "agent_id", "status"),
    )

    # No foreign keys (migration 0028): each fired a trigger per row a start wrote, and none
    # could act. A campaign's rows go with it (``SqlCampaignStore.delete``).
    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=RecordStatus.READY.value)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    #: Why the record cannot be delivered (:class:`callhopper.domain.ownership.OwnerError`).
    error: Mapped[str | None] = mapped_column(String(32))
    rank: Mapped[int] = mapped_column(BigId)
    tz: Mapped[str | None] = mapped_column(String(64))
    retry_at: Mapped[datetime | None]
    lease_agent_id: Mapped[int | None] = mapped_column(Integer)
    lease_expires_at: Mapped[datetime | None]
    leased_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_code: Mapped[str | None] = mapped_column(String(MAX_CODE_LENGTH))
    last_agent_id: Mapped[int | None] = mapped_column(Integer)
    last_at: Mapped[datetime | None]
    #: The pass in which the record was last delivered, and last handled.
    delivered_pass: Mapped[int | None] = mapped_column(Integer)
    handled_pass: Mapped[int | None] = mapped_column(Integer)
    #: A wrap-up chosen but not yet done: ``{"code", "note", "fields"}``.
    pending: Mapped[dict[str, Any] | None]
    #: ``blocked``: another campaign owns the record until then (``NULL``: without expiry).
    blocked_until: Mapped[datetime | None]
    #: Only this agent may get the record (a personal callback).
    reserved_for: Mapped[int | None] = mapped_column(Integer)
    #: When the agent first dialled during the current lease (preview timeout auto-dial).
    called_at: Mapped[datetime | None]
    #: Push modes: the agent must accept before then, else the record goes back on top.
    accept_by: Mapped[datetime | None]


class CampaignAgent(Base):
    """The queue membership snapshot of a campaign, taken at start and at each recycle."""

    __tablename__ = "campaign_agents"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class Assignment(Base):
    """Append-only history of deliveries; survives the campaign (no foreign key to it)."""

    __tablename__ = "assignment_history"
    __table_args__ = (
        Index(
            "uq_assignment_history_open",
            "campaign_id",
            "record_id",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
        Index("ix_assignment_history_record", "record_id"),
        Index("ix_assignment_history_agent", "agent_id", "leased_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(Integer)
    campaign_name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    list_id: Mapped[int] = mapped_column(Integer)
    record_id: Mapped[int] = mapped_column(BigId)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    pass_no: Mapped[int] = mapped_column(Integer)
    leased_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    #: How the delivery ended (:class:`callhopper.domain.records.AssignmentOutcome`).
    outcome: Mapped[str | None] = mapped_column(String(32))
    code: Mapped[str | None] = mapped_column(String(MAX_CODE_LENGTH))
