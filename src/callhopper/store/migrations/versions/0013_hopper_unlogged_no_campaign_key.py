"""hopper: unlogged on PostgreSQL, no foreign key to campaigns

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 17:20:00.000000

The hopper is a stage that every load rebuilds from the leads, so PostgreSQL
need not write it to its log: a load's insert of 200,000 entries takes half the time. After
a crash PostgreSQL empties an unlogged table, and a standby has it empty: the next load
fills it again (a lead inserted with ``hopper=1`` then goes through normal routing).

The key to campaigns checked and locked the campaign once per entry a load added (a third
of the insert's time). Deleting a campaign now deletes its entries itself, and the inserts
into the hopper hold the campaign's row (``FOR KEY SHARE``) once per statement, so that a
campaign deleted meanwhile keeps no entries (``callhopper.store.hopper``).
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hopper", schema=None) as batch_op:
        batch_op.drop_constraint("fk_hopper_campaign_id_campaigns", type_="foreignkey")
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE hopper SET UNLOGGED")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE hopper SET LOGGED")
    op.execute("DELETE FROM hopper WHERE campaign_id NOT IN (SELECT id FROM campaigns)")
    with op.batch_alter_table("hopper", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_hopper_campaign_id_campaigns",
            "campaigns",
            ["campaign_id"],
            ["id"],
            ondelete="CASCADE",
        )
