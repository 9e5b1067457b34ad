"""campaigns, campaign records, agent sessions, assignment history, interactions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:14:52.197580
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import callhopper.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("wrapup_set_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("agent_owned_column", sa.String(length=200), nullable=True),
        sa.Column("owner_order", sa.String(length=16), nullable=False),
        sa.Column("sort", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column(
            "calling_window",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "settings", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("pass_no", sa.Integer(), nullable=False),
        sa.Column("started_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recycled_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "mode IN ('preview', 'push_preview', 'direct_push_preview', 'progressive', 'predictive')",
            name=op.f("ck_campaigns_mode"),
        ),
        sa.CheckConstraint(
            "owner_order IN ('email_first', 'user_id_first')", name=op.f("ck_campaigns_owner_order")
        ),
        sa.CheckConstraint(
            "state IN ('off', 'on', 'stopping', 'complete')", name=op.f("ck_campaigns_state")
        ),
        sa.ForeignKeyConstraint(
            ["list_id"], ["contact_lists.id"], name=op.f("fk_campaigns_list_id_contact_lists")
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queues.id"], name=op.f("fk_campaigns_queue_id_queues")
        ),
        sa.ForeignKeyConstraint(
            ["wrapup_set_id"],
            ["wrapup_code_sets.id"],
            name=op.f("fk_campaigns_wrapup_set_id_wrapup_code_sets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_campaigns_name")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaigns_list_id"), ["list_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_campaigns_queue_id"), ["queue_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_campaigns_wrapup_set_id"), ["wrapup_set_id"], unique=False
        )

    op.create_table(
        "agent_sessions",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "logged_in_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("receiving", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_agent_sessions_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_agent_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("campaign_id", "user_id", name=op.f("pk_agent_sessions")),
    )
    with op.batch_alter_table("agent_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "assignment_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("campaign_name", sa.String(length=200), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column(
            "record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("pass_no", sa.Integer(), nullable=False),
        sa.Column("leased_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_assignment_history_agent_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_history")),
    )
    with op.batch_alter_table("assignment_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assignment_history_agent", ["agent_id", "leased_at"], unique=False
        )
        batch_op.create_index("ix_assignment_history_record", ["record_id"], unique=False)
        batch_op.create_index(
            "uq_assignment_history_open",
            ["campaign_id", "record_id"],
            unique=True,
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        )

    op.create_table(
        "campaign_agents",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_agents_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_campaign_agents_user_id_users")
        ),
        sa.PrimaryKeyConstraint("campaign_id", "user_id", name=op.f("pk_campaign_agents")),
    )
    op.create_table(
        "interactions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("campaign_name", sa.String(length=200), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("edits", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.CheckConstraint(
            "kind IN ('call', 'wrapup', 'decline')", name=op.f("ck_interactions_kind")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_interactions_agent_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
    )
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.create_index("ix_interactions_record", ["record_id", "at"], unique=False)

    op.create_table(
        "campaign_records",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column(
            "record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=32), nullable=True),
        sa.Column("rank", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=True),
        sa.Column("retry_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_agent_id", sa.Integer(), nullable=True),
        sa.Column(
            "lease_expires_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("leased_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_code", sa.String(length=64), nullable=True),
        sa.Column("last_agent_id", sa.Integer(), nullable=True),
        sa.Column("last_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_pass", sa.Integer(), nullable=True),
        sa.Column("handled_pass", sa.Integer(), nullable=True),
        sa.Column(
            "pending", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.CheckConstraint(
            "(status = 'error') = (error IS NOT NULL)", name=op.f("ck_campaign_records_error")
        ),
        sa.CheckConstraint(
            "(status = 'leased' AND lease_agent_id IS NOT NULL AND lease_expires_at IS NOT NULL) OR (status <> 'leased' AND lease_agent_id IS NULL AND lease_expires_at IS NULL)",
            name=op.f("ck_campaign_records_lease"),
        ),
        sa.CheckConstraint(
            "status IN ('ready', 'leased', 'waiting', 'final', 'error')",
            name=op.f("ck_campaign_records_status"),
        ),
        sa.CheckConstraint(
            "agent_id IS NULL OR lease_agent_id IS NULL OR lease_agent_id = agent_id",
            name=op.f("ck_campaign_records_owner_lease"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_campaign_records_agent_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_records_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["last_agent_id"], ["users.id"], name=op.f("fk_campaign_records_last_agent_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["lease_agent_id"], ["users.id"], name=op.f("fk_campaign_records_lease_agent_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
            name=op.f("fk_campaign_records_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "record_id", name=op.f("pk_campaign_records")),
    )
    with op.batch_alter_table("campaign_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_campaign_records_agent", ["campaign_id", "agent_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_campaign_records_fresh",
            ["campaign_id", "agent_id", "rank"],
            unique=False,
            sqlite_where=sa.text("status IN ('ready', 'leased')"),
            postgresql_where=sa.text("status IN ('ready', 'leased')"),
        )
        batch_op.create_index("ix_campaign_records_record", ["record_id"], unique=False)
        batch_op.create_index(
            "ix_campaign_records_retry",
            ["campaign_id", "agent_id", "retry_at"],
            unique=False,
            sqlite_where=sa.text("status = 'waiting' AND retry_at IS NOT NULL"),
            postgresql_where=sa.text("status = 'waiting' AND retry_at IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_campaign_records_one_lease_per_agent",
            ["campaign_id", "lease_agent_id"],
            unique=True,
            sqlite_where=sa.text("status = 'leased'"),
            postgresql_where=sa.text("status = 'leased'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("campaign_records", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_campaign_records_one_lease_per_agent",
            sqlite_where=sa.text("status = 'leased'"),
            postgresql_where=sa.text("status = 'leased'"),
        )
        batch_op.drop_index(
            "ix_campaign_records_retry",
            sqlite_where=sa.text("status = 'waiting' AND retry_at IS NOT NULL"),
            postgresql_where=sa.text("status = 'waiting' AND retry_at IS NOT NULL"),
        )
        batch_op.drop_index("ix_campaign_records_record")
        batch_op.drop_index(
            "ix_campaign_records_fresh",
            sqlite_where=sa.text("status IN ('ready', 'leased')"),
            postgresql_where=sa.text("status IN ('ready', 'leased')"),
        )
        batch_op.drop_index("ix_campaign_records_agent")

    op.drop_table("campaign_records")
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_index("ix_interactions_record")

    op.drop_table("interactions")
    op.drop_table("campaign_agents")
    with op.batch_alter_table("assignment_history", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_assignment_history_open",
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        )
        batch_op.drop_index("ix_assignment_history_record")
        batch_op.drop_index("ix_assignment_history_agent")

    op.drop_table("assignment_history")
    with op.batch_alter_table("agent_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_sessions_user_id"))

    op.drop_table("agent_sessions")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_wrapup_set_id"))
        batch_op.drop_index(batch_op.f("ix_campaigns_queue_id"))
        batch_op.drop_index(batch_op.f("ix_campaigns_list_id"))

    op.drop_table("campaigns")
