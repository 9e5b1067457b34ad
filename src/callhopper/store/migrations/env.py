"""Alembic environment: runs against the connection callhopper hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Index, create_engine

from callhopper.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: Connection) -> None:
    dialect = connection.dialect

    def include_object(
        item: object, name: str | None, kind: str, reflected: bool, compare_to: object
    ) -> bool:
        """Leave out of the comparison what the models create on other databases only."""
        if kind == "index" and not reflected and isinstance(item, Index):
            ddl_if = item._ddl_if  # set by Index.ddl_if(dialect=…)
            if ddl_if is not None and ddl_if.dialect not in (None, dialect.name):
                return False
        return True

    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("callhopper migrations run online only: use `callhopper db upgrade`")
run_migrations_online()
