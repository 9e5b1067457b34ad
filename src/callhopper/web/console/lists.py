"""Contact lists in the console: the lists, a CSV upload with a preview of its first rows
and the mapping of its columns (phone columns and their types, the time-zone source, the
key column, the agent-owned column), the import running in the background with a progress
bar, its rejection report as CSV, appends, and the records of a list (searchable, with
their owner and their delivery history).

Uploaded files wait in a folder of this process between the preview and the import;
:class:`~callhopper.core.import_runs.ImportRunner` imports them and deletes them.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from callhopper.api.ids import BigIntId, IntId
from callhopper.core.import_runs import CsvPreview, preview_csv
from callhopper.domain.actors import Actor
from callhopper.domain.contacts import (
    ColumnSpec,
    ListSchema,
    PhoneColumnSpec,
    TimezoneSource,
    validation_message,
)
from callhopper.domain.errors import CallhopperError, InvalidInput
from callhopper.domain.lists import ContactList
from callhopper.domain.phones import PhoneType
from callhopper.domain.rights import Right
from callhopper.domain.timezones import TimezoneSourceKind
from callhopper.web.console.common import (
    CONSOLE_PATH,
    READERS,
    ConsoleRoute,
    console_user,
    csv_download,
    page,
    refusal,
    services,
)
from callhopper.web.messages import N_, Notice
from callhopper.web.pages.common import checked_form, is_htmx, redirect, text_of
from callhopper.web.views import PHONE_TYPES

router = APIRouter(
    prefix=f"{CONSOLE_PATH}/lists", route_class=ConsoleRoute, include_in_schema=False
)

LISTS = f"{CONSOLE_PATH}/lists"
#: Where uploads wait for their import (one folder per process).
_UPLOADS = Path(tempfile.mkdtemp(prefix="callhopper-uploads-"))
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
RECORDS_PAGE = 50
REJECTIONS_SHOWN = 20
REJECTIONS_PAGE = 5000

NO_FILE = N_("Choose a CSV file to upload.")
LIST_CREATED = N_("Contact list %(list)s created. Its file is being imported.")
TZ_KINDS = {
    TimezoneSourceKind.IANA: N_("Time-zone name (IANA)"),
    TimezoneSourceKind.US_STATE: N_("US state"),
    TimezoneSourceKind.POSTAL_CODE: N_("US postal code"),
}


def _save(upload: UploadFile) -> str:
    """Keep an uploaded file for its import; returns its token."""
    token = secrets.token_urlsafe(24)
    with (_UPLOADS / f"{token}.csv").open("wb") as target:
        shutil.copyfileobj(upload.file, target, 1024 * 1024)
    return token


def _upload_path(token: str) -> Path:
    if not _TOKEN.match(token) or not (_UPLOADS / f"{token}.csv").exists():
        raise InvalidInput("the uploaded file is gone", field="upload")
    return _UPLOADS / f"{token}.csv"


async def _uploaded(request: Request) -> tuple[FormData, str | None]:
    form = await checked_form(request)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        await form.close()
        return form, None
    try:
        return form, await run_in_threadpool(_save, upload)
    finally:
        await form.close()


def _preview(token: str) -> Any:
    with _upload_path(token).open("rb") as stream:
        return preview_csv(stream)


def _previewed(
    request: Request,
    actor: Actor,
    found: CsvPreview | None,
    contact_list: ContactList | None,
    token: str | None,
    name: str,
    form: FormData,
) -> Response:
    """The mapping form of an uploaded file, or the upload form again without one."""
    if found is None:
        target = f"{LISTS}/{contact_list.id}/append" if contact_list else f"{LISTS}/new"
        return page(
            request,
            "upload.html",
            actor,
            status=422,
            target=target,
            list=contact_list,
            notices=[Notice(NO_FILE, level="error")],
        )
    return page(
        request,
        "mapping.html",
        actor,
        preview=found,
        token=token,
        list_name=name,
        phone_types=PHONE_TYPES,
        tz_kinds=TZ_KINDS,
        list=contact_list,
        source=_filename(form),
    )


# --- the lists ----------------------------------------------------------------------------------


@router.get("")
async def lists_page(request: Request) -> Response:
    actor, lists = await console_user(request, lambda _a: services(request).lists.all(), *READERS)
    return page(
        request, "lists.html", actor, lists=lists, manage=actor.can(Right.CONTACT_LIST_MANAGE)
    )


@router.get("/new")
async def new_list(request: Request) -> Response:
    actor, _ = await console_user(request, lambda _a: None, Right.CONTACT_LIST_MANAGE)
    return page(request, "upload.html", actor, target=f"{LISTS}/new", list=None)


@router.post("/new")
async def upload_new(request: Request) -> Response:
    form, token = await _uploaded(request)
    actor, found = await console_user(
        request, lambda _a: _preview(token) if token else None, Right.CONTACT_LIST_MANAGE
    )
    name = Path(_filename(form) or "list").stem
    return _previewed(request, actor, found, None, token, name, form)


def _schema(form: FormData, header: list[str], region: str) -> ListSchema:
    """The list's schema from the mapping form: one column per kept CSV field."""
    columns, phones = [], []
    for index, field in enumerate(header):
        if text_of(form, f"keep-{index}") != "on":
            continue
        name = text_of(form, f"name-{index}").strip() or field
        columns.append(ColumnSpec(name=name))
        phone_type = text_of(form, f"phone-{index}")
        if phone_type:
            phones.append(PhoneColumnSpec(column=name, type=PhoneType(phone_type)))
    by_index = {str(i): text_of(form, f"name-{i}").strip() or f for i, f in enumerate(header)}
    tz_kind, tz_column = text_of(form, "tz_kind"), by_index.get(text_of(form, "tz_column"))
    return ListSchema(
        columns=tuple(columns),
        phone_columns=tuple(phones),
        key_column=by_index.get(text_of(form, "key_column")),
        agent_owned_column=by_index.get(text_of(form, "agent_owned_column")),
        timezone_source=(
            TimezoneSource(kind=TimezoneSourceKind(tz_kind), column=tz_column)
            if tz_kind and tz_column
            else None
        ),
        default_timezone=text_of(form, "default_timezone").strip() or None,
        default_region=region,
    )


def _checked_schema(form: FormData, header: list[str], region: str) -> ListSchema:
    try:
        return _schema(form, header, region)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc), field="schema") from None
    except ValueError as exc:
        raise InvalidInput(str(exc), field="schema") from None


def _header(path: Path) -> list[str]:
    with path.open("rb") as stream:
        return preview_csv(stream, 0).header


async def _mapping_again(
    request: Request, form: FormData, exc: CallhopperError, list_id: int | None = None
) -> Response:
    """The mapping form again, with the reason its values were refused."""
    token = text_of(form, "token")

    def again(_actor: Actor) -> Any:
        contact_list = services(request).lists.get(list_id).contact_list if list_id else None
        return _preview(token), contact_list

    actor, (found, contact_list) = await console_user(request, again, Right.CONTACT_LIST_MANAGE)
    return page(
        request,
        "mapping.html",
        actor,
        status=422,
        notices=[refusal(exc)],
        preview=found,
        token=token,
        list_name=text_of(form, "name"),
        phone_types=PHONE_TYPES,
        tz_kinds=TZ_KINDS,
        list=contact_list,
        source=text_of(form, "source"),
    )


@router.post("/create")
async def create_list(request: Request) -> Response:
    """Create the list the mapping describes, and import its file in the background."""
    form = await checked_form(request)
    token = text_of(form, "token")
    region = request.app.state.settings.default_region

    def create(actor: Actor) -> Any:
        path = _upload_path(token)
        header = _header(path)
        schema = _checked_schema(form, header, region)
        names = {str(i): text_of(form, f"name-{i}").strip() or f for i, f in enumerate(header)}
        mapping = {
            field: names[str(i)] if text_of(form, f"keep-{i}") == "on" else None
            for i, field in enumerate(header)
        }
        created = services(request).lists.create(
            actor, name=text_of(form, "name"), description="", schema=schema
        )
        run = services(request).import_runs.start(
            actor,
            created.contact_list.id,
            str(path),
            source=text_of(form, "source"),
            mapping=mapping,
        )
        return created.contact_list, run

    try:
        _actor, (contact_list, run) = await console_user(request, create, Right.CONTACT_LIST_MANAGE)
    except CallhopperError as exc:
        return await _mapping_again(request, form, exc)
    return redirect(
        f"{LISTS}/{contact_list.id}/runs/{run.token}",
        [Notice(LIST_CREATED, {"list": contact_list.name}, "success")],
    )


# --- append -------------------------------------------------------------------------------------


@router.get("/{list_id}/append")
async def append_form(request: Request, list_id: IntId) -> Response:
    actor, contact_list = await console_user(
        request,
        lambda _a: services(request).lists.get(list_id).contact_list,
        Right.CONTACT_LIST_MANAGE,
    )
    return page(
        request, "upload.html", actor, target=f"{LISTS}/{list_id}/append", list=contact_list
    )


@router.post("/{list_id}/append")
async def upload_append(request: Request, list_id: IntId) -> Response:
    form, token = await _uploaded(request)

    def look(_actor: Actor) -> Any:
        contact_list = services(request).lists.get(list_id).contact_list
        return contact_list, _preview(token) if token else None

    actor, (contact_list, found) = await console_user(request, look, Right.CONTACT_LIST_MANAGE)
    return _previewed(request, actor, found, contact_list, token, contact_list.name, form)


def _filename(form: FormData) -> str:
    upload = form.get("file")
    return (upload.filename or "") if isinstance(upload, UploadFile) else ""


@router.post("/{list_id}/append/start")
async def start_append(request: Request, list_id: IntId) -> Response:
    form = await checked_form(request)
    token = text_of(form, "token")

    def start(actor: Actor) -> Any:
        path = _upload_path(token)
        header = _header(path)
        columns = services(request).lists.get(list_id).contact_list.schema.column_names
        mapping = {
            field: (chosen if (chosen := text_of(form, f"column-{i}")) in columns else None)
            for i, field in enumerate(header)
        }
        return services(request).import_runs.start(
            actor,
            list_id,
            str(path),
            source=text_of(form, "source"),
            mapping=mapping,
            on_duplicate=text_of(form, "on_duplicate") or "reject",
        )

    try:
        _actor, run = await console_user(request, start, Right.CONTACT_LIST_MANAGE)
    except CallhopperError as exc:
        return await _mapping_again(request, form, exc, list_id)
    return redirect(f"{LISTS}/{list_id}/runs/{run.token}")


# --- the import in progress, and its report -----------------------------------------------------


@router.get("/{list_id}/runs/{token}")
async def import_run(request: Request, list_id: IntId, token: str) -> Response:
    """The progress bar while the import runs (the page asks again every second), then the
    import's report."""

    def look(actor: Actor) -> Any:
        run = services(request).import_runs.get(actor, token)
        rejections = []
        if run.outcome is not None:
            rejections = services(request).lists.rejections(
                list_id, run.outcome.job.import_id, offset=0, limit=REJECTIONS_SHOWN
            )
        return services(request).lists.get(list_id).contact_list, run, rejections

    actor, (contact_list, run, rejections) = await console_user(request, look, *READERS)
    template = "_import_run.html" if is_htmx(request) else "import_run.html"
    return page(
        request,
        template,
        actor,
        list=contact_list,
        run=run,
        rejections=rejections,
        shown=REJECTIONS_SHOWN,
    )


@router.get("/{list_id}/imports/{import_id}/rejections.csv")
async def rejections_csv(request: Request, list_id: IntId, import_id: IntId) -> Response:
    """Every rejected row of an import (line, reason), as CSV."""
    lists = services(request).lists
    await console_user(request, lambda _a: lists.import_job(list_id, import_id), *READERS)

    def rows() -> Iterator[tuple[int, str]]:
        offset = 0
        while True:
            batch = lists.rejections(list_id, import_id, offset=offset, limit=REJECTIONS_PAGE)
            yield from ((r.line, r.reason) for r in batch)
            if len(batch) < REJECTIONS_PAGE:
                return
            offset += len(batch)

    return csv_download(f"rejections-{list_id}-{import_id}.csv", ["line", "reason"], rows())


# --- a list and its records ---------------------------------------------------------------------


@router.get("/{list_id}")
async def list_page(request: Request, list_id: IntId) -> Response:
    """A list: its columns, imports and records (searched by a column's value or owner)."""
    query = request.query_params
    column, value, owner = (
        query.get("column", ""),
        query.get("value", "").strip(),
        query.get("owner", "").strip(),
    )
    after = int(query.get("after", "0") or 0) if query.get("after", "0").isdigit() else 0

    def look(actor: Actor) -> Any:
        summary = services(request).lists.get(list_id)
        imports = services(request).lists.imports(list_id)
        records = services(request).leads.search(
            list_id=list_id,
            owner=owner or None,
            fields={column: value} if column and value else {},
            after_id=after,
            limit=RECORDS_PAGE,
        )
        return summary, imports, records

    actor, (summary, imports, records) = await console_user(request, look, *READERS)
    return page(
        request,
        "list.html",
        actor,
        summary=summary,
        list=summary.contact_list,
        imports=imports,
        records=records,
        column=column,
        value=value,
        owner=owner,
        page_size=RECORDS_PAGE,
        manage=actor.can(Right.CONTACT_LIST_MANAGE),
        tab="records",
    )


@router.get("/{list_id}/records/{record_id}")
async def record_page(request: Request, list_id: IntId, record_id: BigIntId) -> Response:
    """A record: its values, owner, the campaign that owns it, and its deliveries."""

    def look(actor: Actor) -> Any:
        view = services(request).lists.record(actor, list_id, record_id)
        history = services(request).campaigns.assignment_history(
            campaign_id=None, record_id=record_id, agent=None, before_id=None, limit=100
        )
        return services(request).lists.get(list_id).contact_list, view, history

    actor, (contact_list, view, history) = await console_user(request, look, *READERS)
    return page(request, "record.html", actor, list=contact_list, view=view, history=history)
