"""agent_sessions: receiving_since

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 05:00:00.000000

The pusher serves the agent who has waited longest first; an agent waits from the later of
their last release, their ready time and this moment (when Get Record / Stop last went on).
Existing sessions start from their login.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callhopper.store.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agent_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "receiving_since", callhopper.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )
    op.execute("UPDATE agent_sessions SET receiving_since = logged_in_at")
    with op.batch_alter_table("agent_sessions", schema=None) as batch_op:
        batch_op.alter_column(
            "receiving_since",
            existing_type=callhopper.store.types.UTCDateTime(timezone=True),
            nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("agent_sessions", schema=None) as batch_op:
        batch_op.drop_column("receiving_since")
