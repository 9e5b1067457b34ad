"""campaign_records: drop the foreign keys

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08 02:20:00.000000

A start or a recycle writes a row per record of the list, and on PostgreSQL each of the six
keys of ``campaign_records`` fired a trigger per row; the non-null ones also looked up and
locked (``FOR KEY SHARE``) the row they named: the record, the campaign, the owner. On a
start of 1,000,000 records these checks took two thirds of the time.

None of them could ever act. Records are deleted only with their list, which no campaign
may then use; users are never deleted (they are deactivated); every value comes from the
table it names (the snapshot joins the list's records and the users, a lease names the
agent signed in). The one cascade that did happen, a campaign's rows going with the
campaign, is now done by the deletion itself, and the statements that add rows to a
campaign hold the campaign's row (``FOR KEY SHARE``) once per statement, so that a
campaign deleted meanwhile keeps none (``callhopper.store.snapshots``).
"""

from __future__ import annotations

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

#: (constraint, referred table, local column, ON DELETE)
_KEYS = (
    ("fk_campaign_records_campaign_id_campaigns", "campaigns", "campaign_id", "CASCADE"),
    ("fk_campaign_records_record_id_records", "records", "record_id", "CASCADE"),
    ("fk_campaign_records_agent_id_users", "users", "agent_id", None),
    ("fk_campaign_records_lease_agent_id_users", "users", "lease_agent_id", None),
    ("fk_campaign_records_last_agent_id_users", "users", "last_agent_id", None),
    ("fk_campaign_records_reserved_for_users", "users", "reserved_for", None),
)


def upgrade() -> None:
    with op.batch_alter_table("campaign_records", schema=None) as batch_op:
        for name, _, _, _ in _KEYS:
            batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    op.execute("DELETE FROM campaign_records WHERE campaign_id NOT IN (SELECT id FROM campaigns)")
    with op.batch_alter_table("campaign_records", schema=None) as batch_op:
        for name, referred, local, on_delete in _KEYS:
            batch_op.create_foreign_key(name, referred, [local], ["id"], ondelete=on_delete)
