"""The *Campaign Ownership* tab of a contact list, as the product's seed lays it out:
Configuration (enable campaign ownership of records, its duration in days and hours, or no
expiration) and Actions (the campaigns that own records of the list with their counts,
Refresh, one, several or All Campaigns selected, Release).

The Actions section is shown only to holders of ``contact_list.ownership_control``; the
release is refused to anybody else whatever the form says.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from callhopper.api.ids import IntId
from callhopper.domain.actors import Actor
from callhopper.domain.campaign_ownership import OwnershipSettings
from callhopper.domain.contacts import validation_message
from callhopper.domain.errors import CallhopperError, InvalidInput
from callhopper.domain.rights import Right
from callhopper.web.console.common import (
    CONSOLE_PATH,
    READERS,
    ConsoleRoute,
    console_user,
    page,
    refusal,
    services,
)
from callhopper.web.messages import N_, Notice
from callhopper.web.pages.common import checked_form, is_htmx, redirect, text_of

router = APIRouter(
    prefix=f"{CONSOLE_PATH}/lists/{{list_id}}/ownership",
    route_class=ConsoleRoute,
    include_in_schema=False,
)

#: The list box's value for every campaign.
ALL = "all"
SETTINGS_SAVED = N_("The campaign ownership settings are saved.")
RELEASED = N_("%(n)s records were released; other campaigns may take them now.")
NONE_CHOSEN = N_("Select one or more campaigns, or All Campaigns, then click Release.")


def _tab_page(
    request: Request,
    actor: Actor,
    tab: Any,
    contact_list: Any,
    *,
    status: int = 200,
    notices: list[Notice] | None = None,
) -> Response:
    template = "_ownership_actions.html" if is_htmx(request) else "ownership.html"
    return page(
        request,
        template,
        actor,
        status=status,
        notices=notices or [],
        list=contact_list,
        tab="ownership",
        ownership=tab,
        controls=actor.can(Right.CONTACT_LIST_OWNERSHIP_CONTROL),
        manage=actor.can(Right.CONTACT_LIST_MANAGE),
        all_value=ALL,
    )


def _look(request: Request, list_id: int) -> Any:
    found = services(request)
    return found.ownership.tab(list_id), found.lists.get(list_id).contact_list


@router.get("")
async def ownership_tab(request: Request, list_id: IntId) -> Response:
    """The tab; with htmx (Refresh), only its Actions section."""
    rights = (Right.CONTACT_LIST_OWNERSHIP_CONTROL,) if is_htmx(request) else READERS
    actor, (tab, contact_list) = await console_user(
        request, lambda _a: _look(request, list_id), *rights
    )
    return _tab_page(request, actor, tab, contact_list)


@router.post("/settings")
async def save_settings(request: Request, list_id: IntId) -> Response:
    form = await checked_form(request)

    def save(actor: Actor) -> Any:
        try:
            no_expiration = text_of(form, "no_expiration") == "on"
            try:
                settings = OwnershipSettings(
                    enabled=text_of(form, "enabled") == "on",
                    days=0 if no_expiration else int(text_of(form, "days") or 0),
                    hours=0 if no_expiration else int(text_of(form, "hours") or 0),
                    no_expiration=no_expiration,
                )
            except ValidationError as exc:
                raise InvalidInput(validation_message(exc), field="ownership") from None
            except ValueError:
                raise InvalidInput("days and hours are whole numbers", field="ownership") from None
            services(request).ownership.update_settings(actor, list_id, settings.model_dump())
            return None
        except CallhopperError as exc:
            return exc, _look(request, list_id)

    actor, refused = await console_user(request, save, Right.CONTACT_LIST_MANAGE)
    if refused is not None:
        exc, (tab, contact_list) = refused
        return _tab_page(request, actor, tab, contact_list, status=422, notices=[refusal(exc)])
    return redirect(
        f"{CONSOLE_PATH}/lists/{list_id}/ownership", [Notice(SETTINGS_SAVED, level="success")]
    )


@router.post("/release")
async def release(request: Request, list_id: IntId) -> Response:
    """Release the records of the selected campaigns (or of all of them)."""
    form = await checked_form(request)
    chosen = [v for v in form.getlist("campaigns") if isinstance(v, str)]
    back = f"{CONSOLE_PATH}/lists/{list_id}/ownership"
    if not chosen:
        _actor, _ = await console_user(
            request, lambda _a: None, Right.CONTACT_LIST_OWNERSHIP_CONTROL
        )
        return redirect(back, [Notice(NONE_CHOSEN, level="warning")])
    campaign_ids = None if ALL in chosen else [int(c) for c in chosen if c.isdigit()]
    _actor, done = await console_user(
        request,
        lambda actor: services(request).ownership.release(actor, list_id, campaign_ids, reason=""),
        Right.CONTACT_LIST_OWNERSHIP_CONTROL,
    )
    return redirect(back, [Notice(RELEASED, {"n": str(done.total)}, "success")])
