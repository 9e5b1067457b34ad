"""The ``callhopper`` command: run the server, manage the schema, users and imports."""

from __future__ import annotations

import gc
import logging
import re
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, TypedDict

import typer
import uvicorn
from pydantic import ValidationError
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from sqlalchemy.engine import make_url

from callhopper.api.app import create_app
from callhopper.cli_common import (
    DatabaseUrl,
    console,
    err,
    errors_reported,
    open_database,
    settings_from,
)
from callhopper.clock import SystemClock
from callhopper.core.importer import parse_mapping
from callhopper.core.lists import create_list, import_rows
from callhopper.core.users import UserService
from callhopper.demo import DEMO_PASSWORD, create_demo
from callhopper.dialing_cli import add_dialing_commands
from callhopper.domain.actors import Actor
from callhopper.domain.contacts import (
    ColumnSpec,
    ListSchema,
    PhoneColumnSpec,
    TimezoneSource,
    validation_message,
)
from callhopper.domain.csvtext import open_text, read_header
from callhopper.domain.errors import CallhopperError, InvalidInput, NotFound
from callhopper.domain.phones import PhoneType
from callhopper.domain.rights import ALL_RIGHTS
from callhopper.domain.timezones import TimezoneSourceKind
from callhopper.export import export_results
from callhopper.security import Argon2PasswordHasher
from callhopper.services import build
from callhopper.settings import Settings
from callhopper.store.db import Database
from callhopper.store.migrate import (
    current_revision,
    head_revision,
    schema_state,
    upgrade,
)
from callhopper.store.uow import SqlUnitOfWork
from callhopper.telephony.cli import app as telephony_app

app = typer.Typer(
    help="callhopper: outbound campaign engine. Every option can also be set as CALLHOPPER_<NAME>.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Users and API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(telephony_app, name="telephony")
add_dialing_commands(app)

#: Who the audit log names for changes made at the console.
CLI_ACTOR = Actor(
    id=None, user_id="cli", email="", display_name="command line", role="system", rights=ALL_RIGHTS
)

# --- server ------------------------------------------------------------------------------------


@app.command()
def serve(
    database_url: DatabaseUrl = None,
    host: Annotated[
        str | None, typer.Option(envvar="CALLHOPPER_HOST", help="Bind address.")
    ] = None,
    port: Annotated[int | None, typer.Option(envvar="CALLHOPPER_PORT", help="TCP port.")] = None,
) -> None:
    """Run the HTTP server (API under /api/v1, docs at /docs).

    An empty database gets the schema; one whose schema is behind is refused
    until `callhopper db upgrade` has run.
    """
    settings = settings_from(database_url, host=host, port=port)
    with open_database(settings) as db:
        _serve(settings, db)


def _serve(settings: Settings, db: Database) -> None:

    console.print(
        f"callhopper on http://{settings.host}:{settings.port}  (API docs: /docs)  "
        f"database: {_redact(settings.database_url)}"
    )
    app = create_app(settings, db, background=settings.run_workers)
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(_redact_tokens)
    tune_collector()
    uvicorn.run(app, host=settings.host, port=settings.port, **server_options(settings))


class ServerOptions(TypedDict):
    log_level: str
    timeout_keep_alive: int
    access_log: bool


def server_options(settings: Settings) -> ServerOptions:
    """How uvicorn runs the app (besides where it listens).

    An idle keep-alive connection is closed after ``settings.keep_alive_s``. Uvicorn's own
    default, 5 s, is shorter than most clients keep an idle connection for reuse (aiohttp
    15 s, browsers and proxies a minute or more): a client then sends its next request on a
    connection the server is closing at that very moment, and gets the connection reset
    instead of an answer. A server past its capacity makes this race common: its event loop
    runs the keep-alive timer before it reads the request waiting on the socket, and closing
    a socket with unread data resets it. The server must be the side that outlasts the
    other, so that the client, which knows when it sends, closes first.
    The access log is off unless asked for: under load its lines took 4 % of a server's
    CPU, much of it on refusals for capacity, which must cost next to nothing.
    """
    keep_alive, access_log = settings.keep_alive_s, settings.access_log
    return ServerOptions(log_level="info", timeout_keep_alive=keep_alive, access_log=access_log)


#: Allocations between collections of the youngest generation, and collections of each
#: generation between collections of the next (Python's defaults: 700, 10, 10).
GC_THRESHOLDS = (20_000, 20, 20)


def tune_collector() -> None:
    """Leave the objects of start-up to reference counting alone, and collect the rest
    less often.

    A server keeps about 200,000 objects from start-up (routes, models, SQLAlchemy's
    metadata) that Python's cycle collector would otherwise walk again and again; under
    load its collections took about 5 % of the server's time (bench/RESULTS.md). Requests
    make few reference cycles, so collecting young objects every 20,000 allocations
    instead of 700 costs little memory.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


_TOKEN_IN_URL = re.compile(r"(token=)[^&\s\"']+")
#: The same in a message's format string, where ``token=%s`` leaves the token to an argument.
_TOKEN_IN_FORMAT = re.compile(r"(token=)(?!%)[^&\s\"']+")


def _redact_tokens(record: logging.LogRecord) -> bool:
    """Keep API tokens sent as ``?token=`` (WebSocket clients) out of the server's logs.

    The token is replaced where it is, in the message or in one of its arguments, and the
    arguments stay arguments: uvicorn's access formatter reads them one by one (client,
    method, path, HTTP version, status), and the line would be lost without them.
    """
    if isinstance(record.msg, str) and "token=" in record.msg:
        record.msg = _TOKEN_IN_FORMAT.sub(r"\1[redacted]", record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_redacted(arg) for arg in record.args)
    elif isinstance(record.args, Mapping):
        record.args = {key: _redacted(value) for key, value in record.args.items()}
    return True


def _redacted(arg: object) -> object:
    if isinstance(arg, str) and "token=" in arg:
        return _TOKEN_IN_URL.sub(r"\1[redacted]", arg)
    return arg


def _redact(url: str) -> str:

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def loader(
    database_url: DatabaseUrl = None,
    poll_seconds: Annotated[
        float, typer.Option(envvar="CALLHOPPER_LOADER_POLL_SECONDS", help="Seconds between rounds.")
    ] = 10.0,
) -> None:
    """Run the background jobs without the HTTP server, until Ctrl-C.

    The jobs: hopper loads, pushes and their timers, webhook deliveries and staleness
    rules. Run as many as you like beside `serve` processes (start those with
    CALLHOPPER_RUN_WORKERS=false): leases and row locks make one process at a time do
    each piece of work.
    """

    settings = settings_from(database_url)
    with open_database(settings) as db:
        services = build(settings, db, SystemClock(), loader_poll_s=poll_seconds)
        services.bus.start()
        threads = services.start_jobs()
        console.print(f"loader {services.loader.holder} running; Ctrl-C stops it")
        stopped = threading.Event()
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass
        finally:
            services.stop_jobs(threads, timeout_s=60)
            services.bus.stop()
            services.close()


# --- schema ------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Bring the database schema up to this version of callhopper."""

    with open_database(settings_from(database_url), check_schema=False) as db:
        before = current_revision(db)
        upgrade(db)
        console.print(f"schema: {before or 'empty'} -> {head_revision(db)}")


@db_app.command("status")
def db_status(database_url: DatabaseUrl = None) -> None:
    """Say whether the schema is empty, current or behind."""

    with open_database(settings_from(database_url), check_schema=False) as db:
        state = schema_state(db)
        console.print(
            f"{state.value}: database at {current_revision(db)}, code at {head_revision(db)}"
        )


# --- users -------------------------------------------------------------------------------------


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Login email (unique, any case).")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    role: Annotated[str, typer.Option(help="admin, supervisor, agent or a custom role.")] = "agent",
    password: Annotated[
        str | None,
        typer.Option(help="Password; asked for when omitted (use --no-password for none)."),
    ] = None,
    no_password: Annotated[bool, typer.Option(help="Create without a password.")] = False,
    user_id: Annotated[str | None, typer.Option(help="Stable id (default: generated).")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a user."""
    if password is None and not no_password:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with open_database(settings_from(database_url)) as db, errors_reported():
        created = _users(db).create_user(
            CLI_ACTOR,
            email=email,
            display_name=name,
            role=role,
            password=password,
            user_id=user_id,
        )
        console.print(f"created {role} {created.user.email} (user_id {created.user.user_id})")


@users_app.command("list")
def users_list(database_url: DatabaseUrl = None) -> None:
    """List users."""
    with open_database(settings_from(database_url)) as db:
        for details in _users(db).users():
            user = details.user
            state = "active" if user.active else "deactivated"
            console.print(f"{user.user_id:<16} {user.role:<12} {state:<12} {user.email}")


@users_app.command("token")
def users_token(
    email: Annotated[str, typer.Argument(help="The user the token acts as.")],
    name: Annotated[str, typer.Option(help="A label for the token.")] = "cli",
    days: Annotated[int | None, typer.Option(help="Expire after this many days.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API token and print it (it is shown only this once)."""
    with open_database(settings_from(database_url)) as db, errors_reported():
        users = _users(db)
        found = users.user_by_email(email)
        if found is None:
            raise CallhopperError(f"no user with email {email!r}")
        issued = users.create_token(CLI_ACTOR, found.user.user_id, name, expires_in_days=days)
    typer.echo(issued.secret)


@users_app.command("import")
def users_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The CSV file.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Create users from a CSV file (email, user_id, display_name, role, password, queues,
    skills), all of them or none: a file with any problem creates nobody and every problem
    is printed with its line, field and reason."""
    with (
        open_database(settings_from(database_url)) as db,
        errors_reported(),
        file.open("rb") as stream,
    ):
        created = _users(db).import_users(CLI_ACTOR, stream)
    console.print(f"created {len(created)} users")


def _users(db: Database) -> UserService:
    """The user service, acting at the console's clock."""
    return UserService(SqlUnitOfWork(db), SystemClock(), Argon2PasswordHasher())


# --- import ------------------------------------------------------------------------------------


@app.command("import")
def import_csv(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The CSV file.")],
    list_name: Annotated[str, typer.Option("--list", help="Name of the contact list.")],
    create: Annotated[
        bool, typer.Option(help="Create the list from the file's header if it does not exist.")
    ] = False,
    phone_column: Annotated[
        list[str] | None,
        typer.Option(
            help="With --create: a phone column, as NAME or NAME:TYPE (cell, home, "
            "work, other); repeat in dialling order."
        ),
    ] = None,
    key_column: Annotated[
        str | None, typer.Option(help="With --create: unique key column.")
    ] = None,
    agent_owned_column: Annotated[
        str | None, typer.Option(help="With --create: column of agent emails or user ids.")
    ] = None,
    lead_owner_column: Annotated[
        str | None, typer.Option(help="With --create: column naming each lead's owner.")
    ] = None,
    timezone_column: Annotated[
        str | None,
        typer.Option(help="With --create: KIND:NAME, KIND one of iana, us_state, postal_code."),
    ] = None,
    required: Annotated[
        list[str] | None, typer.Option(help="With --create: a column that must have a value.")
    ] = None,
    default_timezone: Annotated[
        str | None, typer.Option(help="With --create: fallback zone.")
    ] = None,
    region: Annotated[
        str | None, typer.Option(envvar="CALLHOPPER_DEFAULT_REGION", help="Phone region.")
    ] = None,
    mapping: Annotated[
        str | None, typer.Option(help='JSON {"CSV header": "list column" or null to ignore}.')
    ] = None,
    on_duplicate: Annotated[
        str,
        typer.Option(help="A key already in the list: 'reject' the row or 'update' the record."),
    ] = "reject",
    workers: Annotated[
        int | None, typer.Option(envvar="CALLHOPPER_IMPORT_WORKERS", help="Normalising processes.")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Append a CSV file to a contact list, with a progress bar and a rejection report."""
    settings = settings_from(database_url, default_region=region, import_workers=workers)
    size = file.stat().st_size
    with errors_reported():
        parsed_mapping = parse_mapping(mapping, name="--mapping")
    with open_database(settings) as db, errors_reported():
        if create:
            _create_list_from_header(
                db,
                settings,
                file,
                list_name,
                phone_columns=phone_column or [],
                key_column=key_column,
                agent_owned_column=agent_owned_column,
                lead_owner_column=lead_owner_column,
                timezone_column=timezone_column,
                required=required or [],
                default_timezone=default_timezone,
                mapping=parsed_mapping,
            )
        with (
            Progress(
                TextColumn("importing"),
                BarColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=err,
                transient=True,
            ) as progress,
            file.open("rb") as stream,
            SqlUnitOfWork(db).write() as tx,
        ):
            task = progress.add_task("import", total=size)
            contact_list = tx.lists.by_name(list_name)
            outcome = import_rows(
                tx,
                CLI_ACTOR,
                contact_list.id,
                source=file.name,
                csv_stream=stream,
                mapping=parsed_mapping,
                workers=settings.import_workers,
                batch_rows=settings.import_batch_rows,
                on_duplicate=on_duplicate,
                on_progress=lambda done: progress.update(task, completed=done),
                clock=SystemClock(),
            )
    report = outcome.report
    console.print(
        f"import {outcome.job.import_id} into {list_name!r}: {report.rows_total} rows, "
        f"{report.rows_accepted} accepted, {report.rows_rejected} rejected"
        + (
            f" ({report.rows_updated} of the accepted updated existing records)"
            if report.rows_updated
            else ""
        )
    )
    for rejection in report.rejections:
        console.print(f"  line {rejection.line}: {rejection.reason}", markup=False, highlight=False)
    if report.rejections_truncated:
        console.print(
            f"  … and {report.rows_rejected - len(report.rejections)} more: GET "
            f"/api/v1/contact-lists/{outcome.job.list_id}/imports/{outcome.job.import_id}/rejections"
        )
    for warning in report.warnings:
        console.print(
            f"  line {warning.line}: kept, column {warning.column!r}: {warning.reason}; "
            f"time zone {warning.zone} from {warning.zone_from}",
            markup=False,
            highlight=False,
        )
    if report.warnings_truncated:
        console.print(
            f"  … and {report.rows_warned - len(report.warnings)} more rows kept with a "
            "fallback time zone"
        )


def _create_list_from_header(
    db: Database,
    settings: Settings,
    file: Path,
    name: str,
    *,
    phone_columns: list[str],
    key_column: str | None,
    agent_owned_column: str | None,
    lead_owner_column: str | None,
    timezone_column: str | None,
    required: list[str],
    default_timezone: str | None,
    mapping: dict[str, str | None] | None,
) -> None:
    uow = SqlUnitOfWork(db)
    with uow.read() as tx:
        try:
            tx.lists.by_name(name)
            return
        except NotFound:
            pass
    with file.open("rb") as stream, open_text(stream) as text:
        _, fields = read_header(text)
    header = _mapped_header([f.strip() for f in fields], mapping or {})
    if not phone_columns:
        raise InvalidInput("--create needs at least one --phone-column", field="phone_column")

    def column_of(given: str, option: str) -> str:
        """The list column an option names: a column in any case, or a mapped header."""
        by_folded = {h.casefold(): h for h in header}
        found = by_folded.get(given.strip().casefold())
        if found is None and mapping is not None and mapping.get(given.strip()):
            found = mapping[given.strip()]
        if found is None:
            raise InvalidInput(
                f"{option} {given!r} is not a column of the file ({', '.join(header)})",
                field=option.removeprefix("--").replace("-", "_"),
            )
        return found

    phones = []
    for spec in phone_columns:
        column, _, kind = spec.partition(":")
        if kind and kind not in set(PhoneType):
            raise InvalidInput(
                f"--phone-column {spec!r}: the type is one of {', '.join(PhoneType)}",
                field="phone_column",
            )
        phones.append(
            PhoneColumnSpec(
                column=column_of(column, "--phone-column"), type=PhoneType(kind or "other")
            )
        )
    source = None
    if timezone_column:
        kind, _, column = timezone_column.partition(":")
        if kind not in set(TimezoneSourceKind) or not column:
            raise InvalidInput(
                f"--timezone-column {timezone_column!r} is KIND:NAME, KIND one of "
                f"{', '.join(TimezoneSourceKind)}",
                field="timezone_column",
            )
        source = TimezoneSource(
            kind=TimezoneSourceKind(kind), column=column_of(column, "--timezone-column")
        )

    def optional(given: str | None, option: str) -> str | None:
        return column_of(given, option) if given is not None else None

    must = {column_of(r, "--required") for r in required}
    try:
        schema = ListSchema(
            columns=tuple(ColumnSpec(name=h, required=h in must) for h in header),
            phone_columns=tuple(phones),
            timezone_source=source,
            agent_owned_column=optional(agent_owned_column, "--agent-owned-column"),
            lead_owner_column=optional(lead_owner_column, "--lead-owner-column"),
            key_column=optional(key_column, "--key-column"),
            default_region=settings.default_region,
            default_timezone=default_timezone,
        )
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc), field="header") from None
    with uow.write() as tx:
        create_list(
            tx,
            CLI_ACTOR,
            name=name,
            description=f"created from {file.name}",
            schema=schema,
            now=SystemClock().now(),
        )
    console.print(f"created contact list {name!r} with columns {', '.join(header)}")


def _mapped_header(fields: list[str], mapping: dict[str, str | None]) -> list[str]:
    """The list columns a header makes under ``mapping``: renamed, or left out if null."""
    columns = []
    for name in fields:
        if name in mapping:
            target = mapping[name]
            if target is not None:
                columns.append(target)
        else:
            columns.append(name)
    return columns


# --- demo --------------------------------------------------------------------------------------


@app.command()
def demo(
    database_url: DatabaseUrl = None,
    host: Annotated[str | None, typer.Option(envvar="CALLHOPPER_HOST")] = None,
    port: Annotated[int | None, typer.Option(envvar="CALLHOPPER_PORT")] = None,
    no_serve: Annotated[bool, typer.Option(help="Create the demo data and exit.")] = False,
) -> None:
    """Create demo users, a queue, skills, a contact list and wrap-up codes, then serve."""

    settings = settings_from(database_url, host=host, port=port)
    with open_database(settings) as db:
        with errors_reported():
            summary = create_demo(db, SystemClock().now())
        console.print(summary)
        console.print(f"log in with any demo email and the password [bold]{DEMO_PASSWORD}[/bold]")
        if not no_serve:
            _serve(settings, db)


app.command("export")(export_results)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
