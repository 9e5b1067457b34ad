"""Generate a migration from the difference between the models and the migrated schema.

Usage: ``python -m callhopper.store.new_migration "what changed"``. It migrates a scratch
SQLite database to the current head, then lets Alembic compare it with the models.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from callhopper.store.db import Database
from callhopper.store.migrate import alembic_config, upgrade


def main(message: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        db = Database(f"sqlite:///{Path(scratch) / 'scratch.db'}")
        upgrade(db)
        config = alembic_config(db)
        versions = Path(config.get_main_option("script_location") or "") / "versions"
        rev_id = f"{len(list(versions.glob('[0-9]*.py'))) + 1:04d}"
        with db.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.revision(config, message=message, autogenerate=True, rev_id=rev_id)
        db.dispose()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit('usage: python -m callhopper.store.new_migration "what changed"')
    main(sys.argv[1])
