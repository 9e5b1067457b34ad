"""the built-in telephony role; sign_in_failures

Revision ID: 0020
Revises: 0016
Create Date: 2026-12-07 20:30:00.000000

Routing an inbound call names a number's lead and its owner, so it needs the right
``telephony.route``, which only administrators and the new built-in role ``telephony`` (for
the account of a telephony integration) hold. Failed sign-ins are kept for a few minutes, per
account and per client address, to refuse password guessing across every process.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import callhopper.store.types

revision = "0020"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    roles = sa.table(
        "roles",
        sa.column("name", sa.String),
        sa.column("description", sa.Text),
        sa.column("builtin", sa.Boolean),
        sa.column("rights", sa.JSON),
        sa.column("created_at", callhopper.store.types.UTCDateTime()),
    )
    op.bulk_insert(
        roles,
        [
            {
                "name": "telephony",
                "description": "A telephony integration: routes inbound calls.",
                "builtin": True,
                "rights": [],
                "created_at": datetime.now(UTC),
            }
        ],
    )
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
        sqlite_autoincrement=True,  # ids are never reused (migration 0015)
    )
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.create_index("ix_sign_in_failures_address_at", ["address", "at"], unique=False)
        batch_op.create_index("ix_sign_in_failures_email_key_at", ["email_key", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_failures_email_key_at")
        batch_op.drop_index("ix_sign_in_failures_address_at")
    op.drop_table("sign_in_failures")
    op.execute("DELETE FROM roles WHERE name = 'telephony' AND builtin")
