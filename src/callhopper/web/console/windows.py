"""Calling windows in the console: each campaign's window (local hours and weekdays, always
read in the contact's own time zone) beside where its list takes each contact's zone from;
a window set on one campaign or on several at once; and, for a zone typed in, whether each
window is open there now and when it opens next.

The form calls :meth:`~callhopper.core.campaigns.CampaignService.set_calling_window`, which
patches the window as ``PATCH /campaigns/{id}`` does (``calling_window``) for every chosen
campaign in one transaction, so a window the API refuses is refused here with the same
reason and no campaign changes. Whether a window is open in a zone is the
:class:`~callhopper.domain.calling_window.CallingWindow`'s own answer, the one the dispenser
and the dialer follow.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from callhopper.domain.actors import Actor
from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaign_values import Campaign
from callhopper.domain.rights import Right
from callhopper.domain.timezones import is_zone
from callhopper.web.console.campaigns import DAYS
from callhopper.web.console.common import (
    CONSOLE_PATH,
    READERS,
    ConsoleRoute,
    console_user,
    page,
    services,
)
from callhopper.web.console.forms import chosen, form_action
from callhopper.web.messages import N_, Notice
from callhopper.web.pages.common import text_of
from callhopper.web.views import STATUS

router = APIRouter(
    prefix=f"{CONSOLE_PATH}/windows", route_class=ConsoleRoute, include_in_schema=False
)

WINDOWS = f"{CONSOLE_PATH}/windows"
WINDOW_SET = N_("The calling window of %(campaigns)s is saved.")
UNKNOWN_ZONE = N_("%(zone)s is not a time zone: write an IANA name such as Asia/Tokyo.")
ZONE_KINDS = {
    "iana": N_("the column %(column)s (a zone name)"),
    "us_state": N_("the column %(column)s (a US state)"),
    "postal_code": N_("the column %(column)s (a US postal code)"),
}


def _zone_check(campaigns: list[Campaign], zone: str, now: Any) -> dict[int, Any]:
    """For each campaign: ``None`` when its window is open in ``zone`` now, else when it
    next opens there (``False``: never, the window has no day)."""
    found: dict[int, Any] = {}
    for c in campaigns:
        window = c.calling_window
        found[c.id] = None if window.is_open(now, zone) else (window.next_open(now, zone) or False)
    return found


async def render_windows(
    request: Request,
    status: int = 200,
    notices: list[Notice] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    zone = request.query_params.get("zone", "").strip()
    notices = list(notices or [])
    if zone and not is_zone(zone):
        notices.append(Notice(UNKNOWN_ZONE, {"zone": zone}, "error"))
        status, zone = 422, ""
    editing = request.query_params.get("campaign", "")

    def look(_actor: Actor) -> Any:
        found = services(request)
        campaigns = found.campaigns.all()
        lists = {s.contact_list.id: s.contact_list for s in found.lists.all()}
        check = _zone_check(campaigns, zone, found.campaigns.clock.now()) if zone else {}
        return campaigns, lists, check

    actor, (campaigns, lists, check) = await console_user(request, look, *READERS)
    if values is None:
        window = next(
            (c.calling_window for c in campaigns if str(c.id) == editing), CallingWindow()
        )
        values = {"start": window.start, "end": window.end, "days": list(window.days),
                  "campaigns": [editing]}  # fmt: skip
    return page(
        request, "windows.html", actor, status=status, notices=notices, campaigns=campaigns,
        lists=lists, check_zone=zone, check=check, values=values, days=DAYS, zone_kinds=ZONE_KINDS,
        status_words=STATUS, manage=actor.can(Right.CAMPAIGN_MANAGE),
    )  # fmt: skip


@router.get("")
async def windows_page(request: Request) -> Response:
    return await render_windows(request)


def _days(form: FormData) -> list[int]:
    return [int(d) for d in chosen(form, "days") if d.isdigit()]


@router.post("")
async def set_window(request: Request) -> Response:
    """The window of the form (from, until, days) on every chosen campaign."""
    sent: dict[str, Any] = {}

    def save(actor: Actor, form: FormData) -> Notice:
        sent.update(start=text_of(form, "start"), end=text_of(form, "end"), days=_days(form),
                    campaigns=chosen(form, "campaigns"))  # fmt: skip
        window = {"start": sent["start"], "end": sent["end"], "days": sent["days"]}
        ids = [int(c) for c in sent["campaigns"] if c.isdigit()]
        changed = services(request).campaigns.set_calling_window(actor, ids, window)
        return Notice(WINDOW_SET, {"campaigns": ", ".join(c.name for c in changed)}, "success")

    async def again(request: Request, status: int, notices: list[Notice]) -> Response:
        return await render_windows(request, status, notices, values=sent)

    return await form_action(request, save, Right.CAMPAIGN_MANAGE, again, WINDOWS)
