"""hopper: index on (campaign_id, position)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 02:00:00.000000

A load and every skip append after the campaign's last hopper position; without this
index finding it reads every hopper entry of the campaign.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hopper", schema=None) as batch_op:
        batch_op.create_index("ix_hopper_position", ["campaign_id", "position"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("hopper", schema=None) as batch_op:
        batch_op.drop_index("ix_hopper_position")
