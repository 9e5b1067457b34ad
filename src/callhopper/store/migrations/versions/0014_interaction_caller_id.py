"""interactions: the caller ID a call showed

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 21:00:00.000000

A campaign may offer several caller IDs; the agent picks one on Call, else the campaign's
default is used. Each call records the one it showed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("caller_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_column("caller_id")
