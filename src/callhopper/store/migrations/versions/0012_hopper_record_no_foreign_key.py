"""hopper: drop the foreign key to records

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 09:00:00.000000

A hopper entry's record is on its campaign's list (the list of a campaign never changes),
and records are deleted only with their list, which no campaign may then use: the entry
goes with its campaign first (``fk_hopper_campaign_id_campaigns``, ON DELETE CASCADE). The
key to records could never fire, and its check cost a load a row lock on each lead it
added (on PostgreSQL, half the time of inserting 200,000 entries).
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hopper", schema=None) as batch_op:
        batch_op.drop_constraint("fk_hopper_record_id_records", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("hopper", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_hopper_record_id_records", "records", ["record_id"], ["id"], ondelete="CASCADE"
        )
