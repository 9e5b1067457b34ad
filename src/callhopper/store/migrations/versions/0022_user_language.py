"""users: the pages' language each user chose

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-07 19:50:00.000000

Empty for every existing user: their pages follow the browser's languages until they choose.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0020"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both databases (SQLite 3.35 or newer drops a column in place): a batch
# rebuild of the table would lose the id counter that never goes back (migration 0015).


def upgrade() -> None:
    op.add_column("users", sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "language")
