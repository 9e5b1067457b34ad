"""Schema management: upgrade, and the check ``serve`` runs before it starts."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

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
    """Apply every migration up to ``revision`` in one transaction per migration."""
    config = alembic_config(db)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


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
