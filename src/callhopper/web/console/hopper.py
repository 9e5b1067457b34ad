"""The hopper view of a lead-ownership campaign: how many leads are staged for each owner
agent and for each skills group (general leads), the leads each logged-in agent can be
given now (their own and the general ones their skills match), and the staged leads
themselves, in delivery order, by owner or general only. Campaign managers can run a load
at once.

Everything is :class:`~callhopper.core.hopper.HopperService`, which answers the API's
``/campaigns/{id}/hopper``, ``…/hopper/leads``, ``…/dialable`` and ``…/hopper/load``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from callhopper.api.ids import IntId
from callhopper.domain.actors import Actor
from callhopper.domain.errors import CallhopperError, Conflict, InvalidInput
from callhopper.domain.rights import Right
from callhopper.web.console.charts import Series, bars
from callhopper.web.console.common import (
    CONSOLE_PATH,
    ConsoleRoute,
    console_user,
    page,
    refusal,
    services,
)
from callhopper.web.i18n import translations
from callhopper.web.messages import N_, Notice
from callhopper.web.pages.common import checked_form, language, redirect

router = APIRouter(
    prefix=f"{CONSOLE_PATH}/campaigns/{{campaign_id}}/hopper",
    route_class=ConsoleRoute,
    include_in_schema=False,
)

#: Who reads the hopper (as the API's hopper view).
READERS = (Right.CAMPAIGN_MANAGE, Right.REPORT_VIEW)
#: Staged leads shown per page.
LEADS_PAGE = 100
LOADED = N_("Hopper loaded: %(added)s leads added, %(removed)s removed.")


def _after(raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not raw.lstrip("-").isdigit():
        raise InvalidInput(f"after: {raw!r} is not a position", field="after")
    return int(raw)


def _look(request: Request, campaign_id: int, query: dict[str, str]) -> dict[str, Any]:
    found = services(request)
    campaign = found.campaigns.get(campaign_id)
    try:
        view = found.hopper.view(campaign_id)
    except Conflict as exc:  # not a lead-ownership campaign: the page says so
        return {"campaign": campaign, "view": None, "refused": exc}
    dialable = found.hopper.dialable(campaign_id)
    refused = None
    leads: list[Any] = []
    try:
        leads = found.hopper.leads(
            campaign_id,
            owner=query["owner"] or None,
            general=query["general"] == "on",
            after=_after(query["after"]),
            limit=LEADS_PAGE,
        )
    except CallhopperError as exc:  # a filter of the leads, not the page, was wrong
        refused = exc
    return {
        "campaign": campaign,
        "view": view,
        "dialable": dialable,
        "leads": leads,
        "refused": refused,
    }


@router.get("")
async def hopper_page(request: Request, campaign_id: IntId) -> Response:
    query = {k: request.query_params.get(k, "").strip() for k in ("owner", "general", "after")}
    actor, looked = await console_user(
        request, lambda _a: _look(request, campaign_id, query), *READERS
    )
    refused = looked.pop("refused")
    view = looked["view"]
    if view is None:
        return page(
            request,
            "hopper.html",
            actor,
            status=409,
            notices=[refusal(refused)],
            campaign=looked["campaign"],
            view=None,
        )
    words = translations(language(request)).gettext
    chart = None
    if view.owned:
        chart = bars(
            [o.owner_user_id for o in view.owned],
            [Series("leads", [o.leads for o in view.owned])],
            words(N_("Owned leads in the hopper per agent")),
        )
    leads = looked["leads"]
    return page(
        request,
        "hopper.html",
        actor,
        status=422 if refused is not None else 200,
        notices=[refusal(refused)] if refused is not None else [],
        query=query,
        owned_total=sum(o.leads for o in view.owned),
        general_total=sum(g.leads for g in view.general),
        chart=chart,
        next_after=leads[-1].position if len(leads) == LEADS_PAGE else None,
        loads=actor.can(Right.CAMPAIGN_MANAGE),
        **looked,
    )


@router.post("/load")
async def load_now(request: Request, campaign_id: IntId) -> Response:
    """Run a hopper load now (campaign managers)."""
    await checked_form(request)

    def load(actor: Actor) -> Any:
        return services(request).hopper.load_now(campaign_id)

    _actor, report = await console_user(request, load, Right.CAMPAIGN_MANAGE)
    added = sum(report.added_owned.values()) + sum(report.added_general.values())
    removed = report.removed_owned + report.flushed_general
    notice = Notice(LOADED, {"added": str(added), "removed": str(removed)}, "success")
    return redirect(f"{CONSOLE_PATH}/campaigns/{campaign_id}/hopper", [notice])
