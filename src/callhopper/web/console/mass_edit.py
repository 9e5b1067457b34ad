"""Mass Edit Leads of a contact list: choose the leads (a lead filter over the list's
columns, and their current owner), what to do (reassign them to one agent, clear their
owner, or distribute them evenly over chosen agents), see how many a dry run selects and
changes (with the first leads that would change, their owner now and afterwards), then
confirm. Only holders of ``lead.mass_edit`` open it; every lead that changes
owner gets a ``record.owner`` audit entry, which the page shows afterwards.

The dry run and the change are :meth:`~callhopper.core.owners.OwnerService.mass_edit`, the
same as the API's ``POST /contact-lists/{id}/mass-edit``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from callhopper.api.ids import IntId
from callhopper.domain.actors import Actor
from callhopper.domain.audit import AuditQuery
from callhopper.domain.errors import CallhopperError, InvalidInput
from callhopper.domain.lead_owners import MassAction, MassEdit
from callhopper.domain.rights import Right
from callhopper.web.console.common import (
    CONSOLE_PATH,
    ConsoleRoute,
    console_user,
    page,
    refusal,
    services,
)
from callhopper.web.messages import N_, Notice
from callhopper.web.pages.common import checked_form, redirect, text_of

router = APIRouter(
    prefix=f"{CONSOLE_PATH}/lists/{{list_id}}/mass-edit",
    route_class=ConsoleRoute,
    include_in_schema=False,
)

#: The audit action of a lead's owner change, and how many of them the page shows.
OWNER_ACTION = "record.owner"
AUDIT_SHOWN = 20
ACTIONS = {
    MassAction.SET_OWNER: N_("Reassign them to one agent"),
    MassAction.CLEAR_OWNER: N_("Clear their owner (back to the general pool)"),
    MassAction.DISTRIBUTE: N_("Distribute them evenly over these agents"),
}
CHANGED = N_("%(n)s leads changed owner.")
FIELDS = ("filter", "owner", "action", "owner_user_id", "agents", "note")


def edit_of(form: FormData) -> MassEdit:
    action = text_of(form, "action")
    if action not in {a.value for a in MassAction}:
        raise InvalidInput("choose what to do with the leads", field="action")
    return MassEdit(
        action=MassAction(action),
        filter=text_of(form, "filter").strip() or None,
        owner=text_of(form, "owner").strip() or None,
        owner_user_id=text_of(form, "owner_user_id").strip() or None,
        agents=tuple(
            a.strip() for a in text_of(form, "agents").replace("\n", ",").split(",") if a.strip()
        ),
        note=text_of(form, "note").strip(),
    )


def _context(request: Request, actor: Actor, list_id: int) -> dict[str, Any]:
    found = services(request)
    entries = []
    if actor.can(Right.AUDIT_VIEW):
        entries = found.admin.audit.entries(
            actor, AuditQuery(action=OWNER_ACTION, limit=AUDIT_SHOWN)
        )
    return {"list": found.lists.get(list_id).contact_list, "entries": entries}


def _page(
    request: Request,
    actor: Actor,
    context: dict[str, Any],
    values: dict[str, str],
    *,
    result: Any = None,
    status: int = 200,
    notices: list[Notice] | None = None,
) -> Response:
    return page(
        request,
        "mass_edit.html",
        actor,
        status=status,
        notices=notices or [],
        values=values,
        result=result,
        actions=ACTIONS,
        **context,
    )


@router.get("")
async def mass_edit_form(request: Request, list_id: IntId) -> Response:
    actor, context = await console_user(
        request, lambda a: _context(request, a, list_id), Right.LEAD_MASS_EDIT
    )
    return _page(request, actor, context, {"action": MassAction.SET_OWNER.value})


@router.post("")
async def mass_edit(request: Request, list_id: IntId) -> Response:
    """``confirm`` absent: a dry run, shown with a confirmation; present: the change."""
    form = await checked_form(request)
    confirmed = text_of(form, "confirm") == "yes"
    values = {name: text_of(form, name) for name in FIELDS}

    def run(actor: Actor) -> Any:
        try:
            result = services(request).owners.mass_edit(
                actor, list_id, edit_of(form), dry_run=not confirmed
            )
            return result, None, _context(request, actor, list_id)
        except CallhopperError as exc:
            return None, exc, _context(request, actor, list_id)

    actor, (result, refused, context) = await console_user(request, run, Right.LEAD_MASS_EDIT)
    if refused is not None:
        return _page(request, actor, context, values, status=422, notices=[refusal(refused)])
    if confirmed:
        notice = Notice(CHANGED, {"n": str(result.changed)}, "success")
        return redirect(f"{CONSOLE_PATH}/lists/{list_id}/mass-edit", [notice])
    return _page(request, actor, context, values, result=result)
