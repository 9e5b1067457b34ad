"""campaigns: a version that every change to what an agent's request reads of a campaign bumps

Revision ID: 0027
Revises: 0022
Create Date: 2026-12-07 23:10:00.000000

Each process keeps a campaign's context (settings, calling window, wrap-up codes, its
list's schema and ownership settings) in memory, keyed by the campaign and its version,
and checks the version on every request (docs/adr/0010-campaign-context-cache.md).
Triggers bump it, so that no write path, of this code or of a hand-written statement, can
change a campaign without the other processes seeing it: an update of the campaign's row,
of its contact list's row, or of any code of its wrap-up set.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0022"
branch_labels = None
depends_on = None

_POSTGRESQL = [
    # The campaign's own row: bumped unless the statement set the version itself.
    """
    CREATE FUNCTION campaigns_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.version = OLD.version THEN
            NEW.version := OLD.version + 1;
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER campaigns_version BEFORE UPDATE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION campaigns_bump_version()
    """,
    # The list's schema and ownership settings are part of every campaign on it.
    """
    CREATE FUNCTION contact_lists_bump_campaigns() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE campaigns SET version = version + 1 WHERE list_id = NEW.id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER contact_lists_campaign_version AFTER UPDATE ON contact_lists
    FOR EACH ROW EXECUTE FUNCTION contact_lists_bump_campaigns()
    """,
    # A wrap-up code added, changed or removed: every campaign that uses its set.
    """
    CREATE FUNCTION wrapup_codes_bump_campaigns() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            UPDATE campaigns SET version = version + 1 WHERE wrapup_set_id = OLD.set_id;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            UPDATE campaigns SET version = version + 1 WHERE wrapup_set_id = NEW.set_id;
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER wrapup_codes_campaign_version AFTER INSERT OR UPDATE OR DELETE
    ON wrapup_codes FOR EACH ROW EXECUTE FUNCTION wrapup_codes_bump_campaigns()
    """,
]

_SQLITE = [
    """
    CREATE TRIGGER campaigns_version AFTER UPDATE ON campaigns
    FOR EACH ROW WHEN NEW.version = OLD.version
    BEGIN UPDATE campaigns SET version = OLD.version + 1 WHERE id = NEW.id; END
    """,
    """
    CREATE TRIGGER contact_lists_campaign_version AFTER UPDATE ON contact_lists
    FOR EACH ROW
    BEGIN UPDATE campaigns SET version = version + 1 WHERE list_id = NEW.id; END
    """,
    """
    CREATE TRIGGER wrapup_codes_campaign_version_insert AFTER INSERT ON wrapup_codes
    FOR EACH ROW
    BEGIN UPDATE campaigns SET version = version + 1 WHERE wrapup_set_id = NEW.set_id; END
    """,
    """
    CREATE TRIGGER wrapup_codes_campaign_version_update AFTER UPDATE ON wrapup_codes
    FOR EACH ROW
    BEGIN
        UPDATE campaigns SET version = version + 1
        WHERE wrapup_set_id IN (OLD.set_id, NEW.set_id);
    END
    """,
    """
    CREATE TRIGGER wrapup_codes_campaign_version_delete AFTER DELETE ON wrapup_codes
    FOR EACH ROW
    BEGIN UPDATE campaigns SET version = version + 1 WHERE wrapup_set_id = OLD.set_id; END
    """,
]

_DROP_POSTGRESQL = [
    "DROP TRIGGER wrapup_codes_campaign_version ON wrapup_codes",
    "DROP FUNCTION wrapup_codes_bump_campaigns()",
    "DROP TRIGGER contact_lists_campaign_version ON contact_lists",
    "DROP FUNCTION contact_lists_bump_campaigns()",
    "DROP TRIGGER campaigns_version ON campaigns",
    "DROP FUNCTION campaigns_bump_version()",
]

_DROP_SQLITE = [
    "DROP TRIGGER wrapup_codes_campaign_version_delete",
    "DROP TRIGGER wrapup_codes_campaign_version_update",
    "DROP TRIGGER wrapup_codes_campaign_version_insert",
    "DROP TRIGGER contact_lists_campaign_version",
    "DROP TRIGGER campaigns_version",
]


# Plain ALTER TABLE on both databases: a batch rebuild of the table would lose the id counter
# that never goes back (migration 0015), and the triggers with it.


def upgrade() -> None:
    op.add_column(
        "campaigns",
        sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRESQL if postgres else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _DROP_POSTGRESQL if postgres else _DROP_SQLITE:
        op.execute(statement)
    op.drop_column("campaigns", "version")
