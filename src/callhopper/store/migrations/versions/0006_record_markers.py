"""records carry their campaign owner and who has them out

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 20:11:11.659842
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callhopper.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("out_campaign_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("out_until", callhopper.store.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("owner_campaign_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "owner_until", callhopper.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )
    # Fill the copies from the state they mirror.
    op.execute(
        "UPDATE records SET "
        "owner_campaign_id = (SELECT o.campaign_id FROM record_ownership o "
        "WHERE o.record_id = records.id AND o.released_at IS NULL), "
        "owner_until = (SELECT o.expires_at FROM record_ownership o "
        "WHERE o.record_id = records.id AND o.released_at IS NULL) "
        "WHERE EXISTS (SELECT 1 FROM record_ownership o "
        "WHERE o.record_id = records.id AND o.released_at IS NULL)"
    )
    op.execute(
        "UPDATE records SET "
        "out_campaign_id = (SELECT c.campaign_id FROM campaign_records c "
        "WHERE c.record_id = records.id AND c.status = 'leased' "
        "ORDER BY c.lease_expires_at DESC LIMIT 1), "
        "out_until = (SELECT max(c.lease_expires_at) FROM campaign_records c "
        "WHERE c.record_id = records.id AND c.status = 'leased') "
        "WHERE EXISTS (SELECT 1 FROM campaign_records c "
        "WHERE c.record_id = records.id AND c.status = 'leased')"
    )


def downgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_column("owner_until")
        batch_op.drop_column("owner_campaign_id")
        batch_op.drop_column("out_until")
        batch_op.drop_column("out_campaign_id")
