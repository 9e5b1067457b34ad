"""Do-not-call lists in the console: the lists with their counts, a new list, a CSV upload
of numbers (its report), a number looked up on every list, and numbers removed.

Every form calls :class:`~callhopper.core.dnc.DncService`, as the API's ``/dnc-lists``
endpoints do (numbers are normalised to E.164 in the server's default region).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from callhopper.api.ids import IntId
from callhopper.domain.actors import Actor
from callhopper.domain.errors import CallhopperError
from callhopper.domain.rights import Right
from callhopper.web.console.common import (
    CONSOLE_PATH,
    ConsoleRoute,
    console_user,
    page,
    refusal,
    services,
)
from callhopper.web.console.lists import NO_FILE
from callhopper.web.messages import N_, Notice
from callhopper.web.pages.common import checked_form, redirect, text_of

router = APIRouter(prefix=f"{CONSOLE_PATH}/dnc", route_class=ConsoleRoute, include_in_schema=False)

DNC = f"{CONSOLE_PATH}/dnc"
NUMBERS_SHOWN = 100
LIST_CREATED = N_("Do-not-call list %(list)s created.")
IMPORTED = N_("%(accepted)s numbers added, %(rejected)s rows rejected.")
REMOVED = N_("%(n)s numbers removed.")


async def _render(
    request: Request,
    *,
    found: Any = None,
    status: int = 200,
    notices: list[Notice] | None = None,
) -> Response:
    def look(_actor: Actor) -> Any:
        dnc = services(request).admin.dnc
        lists = dnc.lists()
        numbers = {i.list.id: dnc.numbers(i.list.id, limit=NUMBERS_SHOWN) for i in lists}
        return lists, numbers

    actor, (lists, numbers) = await console_user(request, look, Right.DNC_MANAGE)
    return page(
        request, "dnc.html", actor, status=status, notices=notices or [], lists=lists,
        numbers=numbers, found=found, shown=NUMBERS_SHOWN,
    )  # fmt: skip


@router.get("")
async def dnc_page(request: Request) -> Response:
    """The lists; with ``number``, the lists holding that number."""
    number = request.query_params.get("number", "").strip()
    found = None
    if number:
        try:
            _actor, found = await console_user(
                request, lambda _a: services(request).admin.dnc.check(number), Right.DNC_MANAGE
            )
        except CallhopperError as exc:
            return await _render(request, status=422, notices=[refusal(exc)])
    return await _render(request, found=found)


@router.post("")
async def create_list(request: Request) -> Response:
    form = await checked_form(request)

    def create(actor: Actor) -> Any:
        try:
            return services(request).admin.dnc.create_list(actor, name=text_of(form, "name")), None
        except CallhopperError as exc:
            return None, exc

    _actor, (created, refused) = await console_user(request, create, Right.DNC_MANAGE)
    if refused is not None:
        return await _render(request, status=422, notices=[refusal(refused)])
    return redirect(DNC, [Notice(LIST_CREATED, {"list": created.list.name}, "success")])


@router.post("/{list_id}/upload")
async def upload(request: Request, list_id: IntId) -> Response:
    """Add the numbers of a CSV file (a header row with a ``number`` column)."""
    form = await checked_form(request)
    file = form.get("file")
    if not isinstance(file, UploadFile):
        await form.close()
        return await _render(request, status=422, notices=[Notice(NO_FILE, level="error")])

    def add(actor: Actor) -> Any:
        try:
            report = services(request).admin.dnc.import_numbers(
                actor, list_id, file.file, source=file.filename or "upload.csv"
            )
            return report, None
        except CallhopperError as exc:
            return None, exc

    try:
        _actor, (report, refused) = await console_user(request, add, Right.DNC_MANAGE)
    finally:
        await form.close()
    if refused is not None:
        return await _render(request, status=422, notices=[refusal(refused)])
    params = {"accepted": str(report.rows_accepted), "rejected": str(report.rows_rejected)}
    return redirect(DNC, [Notice(IMPORTED, params, "success")])


@router.post("/{list_id}/remove")
async def remove(request: Request, list_id: IntId) -> Response:
    form = await checked_form(request)
    numbers = [n for n in text_of(form, "numbers").replace(",", "\n").splitlines() if n.strip()]

    def drop(actor: Actor) -> Any:
        try:
            return services(request).admin.dnc.remove_numbers(actor, list_id, numbers), None
        except CallhopperError as exc:
            return None, exc

    _actor, (outcome, refused) = await console_user(request, drop, Right.DNC_MANAGE)
    if refused is not None:
        return await _render(request, status=422, notices=[refusal(refused)])
    return redirect(DNC, [Notice(REMOVED, {"n": str(len(outcome.removed))}, "success")])
