"""Schema management: upgrade, and the check ``serve`` runs before it starts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from callhopper.domain.errors import SchemaOutOfDate
from callhopper.store.db import Database

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class SchemaState(StrEnum):
    EMPTY = "empty"  # no tables at all: safe to create
    CURRENT = "current"
    BEHIND = "behind"  # an older callhopper made it: run `callhopper db upgrade`
    UNKNOWN = "unknown"  # tables, but not ours or from a newer callhopper


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


def head_revision(db: Database) -> str:
    head = ScriptDirectory.from_config(alembic_config(db)).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_state(db: Database) -> SchemaState:
    current = current_revision(db)
    if current is None:
        with db.engine.connect() as conn:
            tables = inspect(conn).get_table_names()
        return SchemaState.EMPTY if not tables else SchemaState.UNKNOWN
    if current == head_revision(db):
        return SchemaState.CURRENT
    script = ScriptDirectory.from_config(alembic_config(db))
    known = {rev.revision for rev in script.walk_revisions()}
    return SchemaState.BEHIND if current in known else SchemaState.UNKNOWN


def upgrade(db: Database, revision: str = "head") -> None:
    """Apply every migration up to ``revision``, in one transaction."""
    config = alembic_config(db)
    with _migrating(db) as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(db: Database, revision: str) -> None:
    """Undo the migrations after ``revision``, in one transaction."""
    config = alembic_config(db)
    with _migrating(db) as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


@contextmanager
def _migrating(db: Database) -> Iterator[Connection]:
    """A connection in a transaction for migrations; on SQLite, with foreign keys off.

    SQLite changes what ALTER TABLE cannot by rebuilding the table: copy it, drop the old
    one, rename the copy. With foreign keys on, the drop would delete (ON DELETE CASCADE)
    or refuse the rows that refer to the table. They go off before the transaction (SQLite
    ignores the pragma inside one) and every key is checked before the commit.
    """
    with db.engine.connect() as conn:
        sqlite = db.dialect == "sqlite"
        if sqlite:
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                yield conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(
                            f"the migration would break {len(broken)} foreign keys "
                            f"(first: table {broken[0][0]}, row {broken[0][1]}); nothing changed"
                        )
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def ensure_schema(db: Database) -> SchemaState:
    """Create the schema in an empty database; refuse one that is behind or foreign."""
    state = schema_state(db)
    if state is SchemaState.EMPTY:
        upgrade(db)
        return SchemaState.EMPTY
    if state is SchemaState.BEHIND:
        raise SchemaOutOfDate(
            f"the database schema ({current_revision(db)}) is behind this callhopper "
            f"({head_revision(db)}); run `callhopper db upgrade` first"
        )
    if state is SchemaState.UNKNOWN:
        raise SchemaOutOfDate(
            "the database holds tables callhopper does not recognise (another application, "
            "or a newer callhopper); point CALLHOPPER_DATABASE_URL at a callhopper database"
        )
    return state
