"""What every command of the command line shares: its consoles, the database option, the
settings and the database it opens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console

from callhopper.domain.errors import CallhopperError
from callhopper.services import pool_size
from callhopper.settings import Settings
from callhopper.store.db import Database
from callhopper.store.migrate import ensure_schema

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="CALLHOPPER_DATABASE_URL",
        help="SQLAlchemy URL (default: sqlite:///./callhopper.db).",
        show_default=False,
    ),
]


def settings_from(database_url: str | None, **overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if database_url is not None:
        values["database_url"] = database_url
    return Settings(**values)


@contextmanager
def errors_reported() -> Iterator[None]:
    """Print callhopper errors as one line and exit 1, instead of a traceback."""
    try:
        yield
    except CallhopperError as exc:
        for p in exc.details.get("problems", []):  # a file's problems, line by line
            err.print(f"line {p['line']}: {p['field']}: {p['message']}", markup=False)
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None


@contextmanager
def open_database(settings: Settings, *, check_schema: bool = True) -> Iterator[Database]:
    """The database, its schema created if empty (or refused if behind); closed afterwards."""

    db = Database(
        settings.database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        pool_size=pool_size(settings),
        prepare_threshold=settings.db_prepare_threshold,
    )
    try:
        if check_schema:
            with errors_reported():
                ensure_schema(db)
        yield db
    finally:
        db.dispose()
