"""Wrap-up code sets in the console: the sets with the campaigns that use them, a new set
(a copy of the default codes or of another set), a set's codes changed with every field the
API takes (code, label, counts as an attempt, final, retry after, adds to DNC, owner action),
a set given to a campaign, and a set no campaign uses deleted.

Each form calls :class:`~callhopper.core.wrapup.WrapupService` (and, to give a set to a
campaign, :class:`~callhopper.core.campaigns.CampaignService`), as the API's
``/wrapup-code-sets`` and ``PATCH /campaigns/{id}`` do; every code is read into the API's own
:class:`~callhopper.domain.wrapup.WrapupCodeSpec`, so a value the API refuses is refused here
with the same reason, naming the line and the field.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from callhopper.api.ids import IntId
from callhopper.domain.actors import Actor
from callhopper.domain.errors import CallhopperError, InvalidInput
from callhopper.domain.rights import Right
from callhopper.domain.wrapup import OwnerAction, WrapupCodeSpec, WrapupSet
from callhopper.web.console.common import (
    CONSOLE_PATH,
    ConsoleRoute,
    console_user,
    page,
    refusal,
    services,
)
from callhopper.web.console.forms import Again, form_action, ticked, validated, whole_number
from callhopper.web.messages import N_, Notice
from callhopper.web.pages.common import checked_form, redirect, text_of

router = APIRouter(
    prefix=f"{CONSOLE_PATH}/wrapup", route_class=ConsoleRoute, include_in_schema=False
)

WRAPUP = f"{CONSOLE_PATH}/wrapup"
#: Empty lines under a set's codes, for new codes.
NEW_LINES = 3
SET_CREATED = N_("Wrap-up code set %(set)s created with %(n)s codes.")
SET_SAVED = N_("Wrap-up code set %(set)s is saved.")
SET_DELETED = N_("Wrap-up code set %(set)s is deleted.")
SET_GIVEN = N_("%(campaign)s now uses the wrap-up codes of %(set)s.")
OWNER_ACTIONS = {
    OwnerAction.SET_OWNER_TO_AGENT: N_("The agent becomes the lead's owner"),
    OwnerAction.CLEAR_OWNER: N_("The lead goes back to the general pool"),
}


def line_of(code: WrapupCodeSpec | None) -> dict[str, Any]:
    """One line of the codes' table (empty for a new code)."""
    if code is None:
        return {"code": "", "label": "", "counts_as_attempt": True, "final": False,
                "retry_after_minutes": "", "adds_to_dnc": False, "owner_action": ""}  # fmt: skip
    line: dict[str, Any] = code.model_dump(mode="json")
    line["retry_after_minutes"] = (
        "" if code.retry_after_minutes is None else line["retry_after_minutes"]
    )
    line["owner_action"] = line["owner_action"] or ""
    return line


def sent_lines(form: FormData) -> list[dict[str, Any]]:
    """The lines of the codes' table as sent, without the empty and the removed ones."""
    lines = []
    for n in range(whole_number(form, "lines") or 0):
        line = {
            "code": text_of(form, f"code-{n}").strip(),
            "label": text_of(form, f"label-{n}").strip(),
            "counts_as_attempt": ticked(form, f"attempt-{n}"),
            "final": ticked(form, f"final-{n}"),
            "retry_after_minutes": text_of(form, f"retry-{n}").strip(),
            "adds_to_dnc": ticked(form, f"dnc-{n}"),
            "owner_action": text_of(form, f"owner-{n}"),
        }
        if (line["code"] or line["label"]) and not ticked(form, f"remove-{n}"):
            lines.append(line)
    return lines


def codes_of(lines: list[dict[str, Any]]) -> list[WrapupCodeSpec]:
    """The lines as codes; the first value refused is named with its line and field
    (``codes.2.retry_after_minutes``)."""
    return [
        validated(
            WrapupCodeSpec,
            {
                **line,
                "retry_after_minutes": line["retry_after_minutes"] or None,
                "owner_action": line["owner_action"] or None,
            },
            prefix=f"codes.{n}.",
        )
        for n, line in enumerate(lines, start=1)
    ]


# --- the list of sets ---------------------------------------------------------------------------


async def render_sets(
    request: Request, status: int = 200, notices: list[Notice] | None = None
) -> Response:
    def look(_actor: Actor) -> Any:
        found = services(request)
        using: dict[int, list[str]] = {}
        for campaign in found.campaigns.all():
            using.setdefault(campaign.wrapup_set_id, []).append(campaign.name)
        return found.admin.wrapup.code_sets(), using

    actor, (sets, using) = await console_user(request, look, Right.WRAPUP_MANAGE)
    return page(
        request, "wrapup.html", actor, status=status, notices=notices or [], sets=sets,
        using=using,
    )  # fmt: skip


@router.get("")
async def sets_page(request: Request) -> Response:
    return await render_sets(request)


@router.post("")
async def create_set(request: Request) -> Response:
    """A new set: a copy of the default codes, or of the codes of the set chosen."""

    def create(actor: Actor, form: FormData) -> Notice:
        wrapup = services(request).admin.wrapup
        source = whole_number(form, "copy_of")
        codes = None if source is None else wrapup.code_set(source).codes
        created = wrapup.create_set(
            actor,
            name=text_of(form, "name"),
            description=text_of(form, "description"),
            codes=codes,
        )
        return Notice(SET_CREATED, {"set": created.name, "n": str(len(created.codes))}, "success")

    return await form_action(request, create, Right.WRAPUP_MANAGE, render_sets, WRAPUP)


# --- one set ------------------------------------------------------------------------------------


def _set_page(
    request: Request,
    actor: Actor,
    found: tuple[WrapupSet, list[Any]],
    *,
    lines: list[dict[str, Any]] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    notices: list[Notice] | None = None,
) -> Response:
    code_set, campaigns = found
    shown = lines if lines is not None else [line_of(c) for c in code_set.codes]
    return page(
        request,
        "wrapup_set.html",
        actor,
        status=status,
        notices=notices or [],
        code_set=code_set,
        values=values or {"name": code_set.name, "description": code_set.description},
        lines=[*shown, *(line_of(None) for _ in range(NEW_LINES))],
        owner_actions=OWNER_ACTIONS,
        campaigns=campaigns,
        give=actor.can(Right.CAMPAIGN_MANAGE),
    )


def _look(request: Request, set_id: int) -> tuple[WrapupSet, list[Any]]:
    found = services(request)
    return found.admin.wrapup.code_set(set_id), found.campaigns.all()


def _again(set_id: int) -> Again:
    async def again(request: Request, status: int, notices: list[Notice]) -> Response:
        actor, found = await console_user(
            request, lambda _a: _look(request, set_id), Right.WRAPUP_MANAGE
        )
        return _set_page(request, actor, found, status=status, notices=notices)

    return again


@router.get("/{set_id}")
async def set_page(request: Request, set_id: IntId) -> Response:
    actor, found = await console_user(
        request, lambda _a: _look(request, set_id), Right.WRAPUP_MANAGE
    )
    return _set_page(request, actor, found)


@router.post("/{set_id}")
async def save_set(request: Request, set_id: IntId) -> Response:
    """The set's name, description and codes (the lines sent, in their order)."""
    form = await checked_form(request)
    lines = sent_lines(form)
    values = {"name": text_of(form, "name"), "description": text_of(form, "description")}

    def save(actor: Actor) -> Any:
        try:
            saved = services(request).admin.wrapup.update_set(
                actor, set_id, name=values["name"], description=values["description"],
                codes=codes_of(lines),
            )  # fmt: skip
            return saved, None
        except CallhopperError as exc:
            return None, (exc, _look(request, set_id))

    actor, (saved, refused) = await console_user(request, save, Right.WRAPUP_MANAGE)
    if refused is not None:
        exc, found = refused
        return _set_page(
            request,
            actor,
            found,
            lines=lines,
            values=values,
            status=422,
            notices=[refusal(exc)],
        )
    return redirect(f"{WRAPUP}/{set_id}", [Notice(SET_SAVED, {"set": saved.name}, "success")])


@router.post("/{set_id}/campaign")
async def give_to_campaign(request: Request, set_id: IntId) -> Response:
    """The campaign chosen answers with this set's codes from now on."""

    def give(actor: Actor, form: FormData) -> Notice:
        found = services(request)
        code_set = found.admin.wrapup.code_set(set_id)
        campaign_id = whole_number(form, "campaign_id")
        if campaign_id is None:
            raise InvalidInput("choose a campaign", field="campaign_id")
        changed = found.campaigns.update(actor, campaign_id, {"wrapup_set_id": set_id})
        params = {"campaign": changed.campaign.name, "set": code_set.name}
        return Notice(SET_GIVEN, params, "success")

    return await form_action(
        request, give, Right.CAMPAIGN_MANAGE, _again(set_id), f"{WRAPUP}/{set_id}"
    )


@router.post("/{set_id}/delete")
async def delete_set(request: Request, set_id: IntId) -> Response:
    def delete(actor: Actor, form: FormData) -> Notice:
        wrapup = services(request).admin.wrapup
        name = wrapup.code_set(set_id).name
        wrapup.delete_set(actor, set_id)
        return Notice(SET_DELETED, {"set": name}, "success")

    return await form_action(request, delete, Right.WRAPUP_MANAGE, _again(set_id), WRAPUP)
