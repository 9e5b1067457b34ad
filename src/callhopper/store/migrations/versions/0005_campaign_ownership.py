"""campaign ownership of records

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 19:50:06.659923
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import callhopper.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_ownership",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column(
            "record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("campaign_name", sa.String(length=200), nullable=False),
        sa.Column("owned_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("released_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("release_reason", sa.String(length=16), nullable=True),
        sa.CheckConstraint(
            "release_reason IS NULL OR release_reason IN ('released', 'expired')",
            name=op.f("ck_record_ownership_release_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["contact_lists.id"],
            name=op.f("fk_record_ownership_list_id_contact_lists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
            name=op.f("fk_record_ownership_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_ownership")),
    )
    with op.batch_alter_table("record_ownership", schema=None) as batch_op:
        batch_op.create_index(
            "ix_record_ownership_list_campaign",
            ["list_id", "campaign_id"],
            unique=False,
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        )
        batch_op.create_index(
            "ix_record_ownership_released", ["list_id", "released_at"], unique=False
        )
        batch_op.create_index(
            "uq_record_ownership_open",
            ["record_id"],
            unique=True,
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        )

    with op.batch_alter_table("campaign_records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "blocked_until", callhopper.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        # Records set aside while another campaign owns them get their own status.
        batch_op.drop_constraint(op.f("ck_campaign_records_status"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_campaign_records_status"),
            "status IN ('ready', 'leased', 'waiting', 'final', 'error', 'blocked')",
        )
        batch_op.create_check_constraint(
            op.f("ck_campaign_records_blocked"), "status = 'blocked' OR blocked_until IS NULL"
        )
        batch_op.create_index(
            "ix_campaign_records_blocked",
            ["campaign_id", "agent_id", "blocked_until"],
            unique=False,
            sqlite_where=sa.text("status = 'blocked'"),
            postgresql_where=sa.text("status = 'blocked'"),
        )

    with op.batch_alter_table("contact_lists", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "ownership",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                server_default=sa.text("'{}'"),
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("contact_lists", schema=None) as batch_op:
        batch_op.drop_column("ownership")

    op.execute(
        "UPDATE campaign_records SET status = 'ready', blocked_until = NULL WHERE status = 'blocked'"
    )
    with op.batch_alter_table("campaign_records", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_campaign_records_blocked"), type_="check")
        batch_op.drop_constraint(op.f("ck_campaign_records_status"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_campaign_records_status"),
            "status IN ('ready', 'leased', 'waiting', 'final', 'error')",
        )
        batch_op.drop_index(
            "ix_campaign_records_blocked",
            sqlite_where=sa.text("status = 'blocked'"),
            postgresql_where=sa.text("status = 'blocked'"),
        )
        batch_op.drop_column("blocked_until")

    with op.batch_alter_table("record_ownership", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_record_ownership_open",
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        )
        batch_op.drop_index("ix_record_ownership_released")
        batch_op.drop_index(
            "ix_record_ownership_list_campaign",
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        )

    op.drop_table("record_ownership")
