"""hopper: drop ix_hopper_group

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 06:40:00.000000

No query looks hopper entries up by skills group (counts and flushes read a campaign's
entries through ix_hopper_owner); the index only cost every load and skip an insert.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hopper", schema=None) as batch_op:
        batch_op.drop_index("ix_hopper_group")


def downgrade() -> None:
    with op.batch_alter_table("hopper", schema=None) as batch_op:
        batch_op.create_index("ix_hopper_group", ["campaign_id", "group_key"], unique=False)
