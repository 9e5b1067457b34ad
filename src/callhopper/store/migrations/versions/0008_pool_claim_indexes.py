"""claim indexes for records without an owner snapshot (PostgreSQL)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 01:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# A copy, not an import of the models: a migration keeps the schema of its own day.
_INDEXES = (
    ("fresh", "rank", "status IN ('ready', 'leased')"),
    ("retry", "retry_at", "status = 'waiting' AND retry_at IS NOT NULL"),
    ("blocked", "blocked_until", "status = 'blocked'"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite walks the owner-snapshot indexes with agent_id IS NULL as an equality
    for name, column, where in _INDEXES:
        op.create_index(
            f"ix_campaign_records_{name}_pool",
            "campaign_records",
            ["campaign_id", column],
            unique=False,
            postgresql_where=sa.text(f"{where} AND agent_id IS NULL"),
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _, _ in _INDEXES:
        op.drop_index(f"ix_campaign_records_{name}_pool", table_name="campaign_records")
