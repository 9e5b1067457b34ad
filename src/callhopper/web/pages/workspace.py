"""The agent workspace: My Campaigns, the agent's channels, the records on screen, and the
actions on a campaign (log in and out, Get Record, the Get Record / Stop toggle, ready).

Every action is a plain form POST that works without JavaScript (it answers with a redirect
to the workspace, or the workspace with the error); with htmx it answers with the parts of
the page that changed. The records on screen are the ones the dispenser says are delivered
to the agent now, so a reload, a second tab or a reconnect shows the same ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from callhopper.api.errors import status_of
from callhopper.api.ids import BigIntId, IntId
from callhopper.api.schemas import ReadyIn, ReceivingIn
from callhopper.core.dispensing import Delivery, Dispenser, MyCampaign, NoRecord
from callhopper.domain.actors import Actor
from callhopper.domain.campaigns import Channel
from callhopper.domain.errors import CallhopperError, NotFound
from callhopper.domain.rights import Right
from callhopper.settings import Settings
from callhopper.web import messages as m
from callhopper.web.i18n import translations
from callhopper.web.messages import Notice
from callhopper.web.pages.common import (
    WORKSPACE_PATH,
    PageRoute,
    as_user,
    checked_form,
    is_htmx,
    language,
    redirect,
    render,
    text_of,
    zone,
)
from callhopper.web.views import (
    CHANNELS,
    DELIVERY,
    HISTORY_KINDS,
    MODES,
    ORIGINS,
    PHONE_TYPES,
    STATUS,
    code_label,
    field_form_value,
    input_in_zone,
    labels_of,
    note_label,
    result_label,
    shown_value,
)

_T = TypeVar("_T")

router = APIRouter(prefix=WORKSPACE_PATH, route_class=PageRoute, include_in_schema=False)

#: What the page's script says by itself (the live channel's news), translated on the page.
SCRIPT_TEXT = {
    "lost": m.CONNECTION_LOST,
    "back": m.RECONNECTED,
    "unreachable": m.UNREACHABLE,
    "failed": m.FAILED,
    "autoDialled": m.AUTO_DIALLED,
    "endedOther": m.ENDED_OTHER,
    "autoDialIn": m.N_("Automatic call in %(s)s s"),
    "acceptWithin": m.N_("Accept within %(s)s s"),
    "dialling": m.N_("Calling now…"),
    "yourTime": m.N_("Your time: %(time)s"),
}


def dispenser_of(request: Request) -> Dispenser:
    dispenser: Dispenser = request.app.state.dispenser
    return dispenser


@dataclass
class View:
    """What the workspace shows: the agent's campaigns and channels, and their records."""

    campaigns: list[MyCampaign]
    channels: dict[Channel, bool]
    records: list[Delivery] = field(default_factory=list)


def gather(dispenser: Dispenser, agent: Actor, *, records: bool) -> View:
    """Read what the workspace shows (``records``: the records delivered now too)."""
    return View(
        dispenser.my_campaigns(agent),
        dispenser.channels(agent),
        dispenser.deliveries(agent) if records else [],
    )


@dataclass
class Outcome:
    """What an action did, for the answer: notices, a record to bring on screen, and for a
    record action the record (still delivered: to show again; ``None``: it left)."""

    notices: list[Notice]
    show: tuple[int, int] | None = None
    record: Delivery | None = None
    #: The action's record left the screen (done, skipped, declined, closed …).
    ended: bool = False
    status: int = 200


async def as_agent(request: Request, work: Callable[[Actor], _T]) -> tuple[Actor, _T]:
    """``work`` for a user who may work campaigns (others get the 403 page)."""

    def checked(actor: Actor) -> _T:
        actor.require(Right.AGENT_WORK)
        return work(actor)

    return await as_user(request, checked)


def page_values(request: Request) -> dict[str, Any]:
    """The template values of every workspace template."""
    return {
        "modes": MODES,
        "delivery_modes": DELIVERY,
        "statuses": STATUS,
        "channel_names": CHANNELS,
        "phone_types": PHONE_TYPES,
        "history_kinds": HISTORY_KINDS,
        "origins": ORIGINS,
        "code_label": code_label,
        "result_label": result_label,
        "field_form_value": field_form_value,
        "input_in_zone": input_in_zone,
        "labels_of": labels_of,
        "note_label": note_label,
        "shown_value": shown_value,
        "now": request.app.state.clock.now(),
    }


def when(request: Request, value: datetime | None, zone_name: str | None = None) -> str:
    """A time as the viewer's locale writes it, in ``zone_name`` (else the viewer's)."""
    if value is None:
        return ""
    tzinfo = ZoneInfo(zone_name or zone(request))
    return format_datetime(value, "short", tzinfo=tzinfo, locale=language(request))


# --- answers ------------------------------------------------------------------------------------


def workspace_page(
    request: Request, actor: Actor, view: View, *, status: int = 200, notices: list[Notice]
) -> Response:
    lang = language(request)
    script_text: dict[str, Any] = {k: translations(lang).gettext(v) for k, v in SCRIPT_TEXT.items()}
    script_text["ended"] = {
        reason: translations(lang).gettext(text) for reason, text in m.ENDED.items()
    }
    return render(
        request,
        "workspace.html",
        actor=actor,
        status=status,
        notices=notices,
        view=view,
        script_text=script_text,
        softphone=softphone_of(request.app.state.settings, actor, lang),
        **page_values(request),
    )


def softphone_of(settings: Settings, actor: Actor, lang: str) -> dict[str, Any] | None:
    """The browser phone's settings and words, where one is configured: it registers as
    ``sip:<user_id>@<domain>``, the address the dialer calls the agent at."""
    if not settings.softphone_ws_url:
        return None
    words = translations(lang)
    return {
        "ws_url": settings.softphone_ws_url,
        "sip_uri": f"sip:{actor.user_id}@{settings.sip_domain}",
        "password": settings.sip_agent_password,
        "messages": {name: words.gettext(text) for name, text in m.SOFTPHONE.items()},
    }


def answer(
    request: Request,
    actor: Actor,
    outcome: Outcome,
    view: View | None,
    *,
    record_key: tuple[int, int] | None = None,
) -> Response:
    """The answer to an action: with htmx, the part of the page the form lives in (the
    record of ``record_key``, else My Campaigns) and, out of band, the notices and My
    Campaigns (when ``view`` has it); without, the workspace (after a redirect when the
    action succeeded)."""
    if not is_htmx(request):
        if outcome.status < 400:
            anchor = "#record-{}-{}".format(*outcome.show) if outcome.show else ""
            return redirect(WORKSPACE_PATH + anchor, outcome.notices)
        assert view is not None
        return workspace_page(request, actor, view, status=outcome.status, notices=outcome.notices)
    headers: dict[str, str] = {}
    triggers: dict[str, Any] = {}
    if outcome.show is not None:
        triggers["callhopper:show"] = {"campaign": outcome.show[0], "record": outcome.show[1]}
    if record_key is not None and outcome.ended:
        triggers["callhopper:ended"] = {"campaign": record_key[0], "record": record_key[1]}
    if triggers:
        headers["HX-Trigger"] = json.dumps(triggers)
    if record_key is not None and outcome.record is None and not outcome.ended:
        headers["HX-Reswap"] = "none"  # an error that leaves the record as it is
    return render(
        request,
        "_answer.html",
        actor=actor,
        status=outcome.status,
        notices=outcome.notices,
        view=view,
        record=outcome.record,
        in_record=record_key is not None,
        headers=headers,
        **page_values(request),
    )


async def act(
    request: Request,
    work: Callable[[Actor, Dispenser], Outcome],
    *,
    record_key: tuple[int, int] | None = None,
) -> Response:
    """Run an action of the workspace and answer it (see :func:`answer`). An error of the
    service is a notice with the error's status. My Campaigns is read again only when the
    action may have changed it (an action on a campaign, a record that left)."""
    dispenser = dispenser_of(request)
    full = not is_htmx(request)

    def run(agent: Actor) -> tuple[Outcome, View | None]:
        try:
            outcome = work(agent, dispenser)
        except CallhopperError as exc:
            outcome = Outcome([m.error_notice(exc)], status=status_of(exc))
            gone = isinstance(exc, NotFound) and exc.details.get("field") == "record_id"
            outcome.ended = gone  # a record that is not the agent's any more leaves the screen
        if full and outcome.status >= 400:
            return outcome, gather(dispenser, agent, records=True)
        if full or (record_key is not None and not outcome.ended):
            return outcome, None
        return outcome, gather(dispenser, agent, records=False)

    actor, (outcome, view) = await as_agent(request, run)
    return answer(request, actor, outcome, view, record_key=record_key)


def campaign_name(dispenser: Dispenser, agent: Actor, campaign_id: int) -> str:
    for campaign in dispenser.my_campaigns(agent):
        if campaign.id == campaign_id:
            return campaign.name
    raise NotFound(f"no campaign {campaign_id} for you", field="campaign_id")


# --- pages --------------------------------------------------------------------------------------


@router.get("")
async def workspace(request: Request) -> Response:
    actor, view = await as_agent(
        request, lambda agent: gather(dispenser_of(request), agent, records=True)
    )
    return workspace_page(request, actor, view, notices=[])


@router.get("/campaigns")
async def campaigns_part(request: Request) -> Response:
    """My Campaigns and the channels (the page's script refreshes them on news)."""
    actor, view = await as_agent(
        request, lambda agent: gather(dispenser_of(request), agent, records=False)
    )
    return render(request, "_campaigns.html", actor=actor, view=view, **page_values(request))


@router.get("/records")
async def records_part(request: Request) -> Response:
    """Every record delivered to the agent now (the script's resume after a reconnect)."""
    actor, records = await as_agent(request, lambda agent: dispenser_of(request).deliveries(agent))
    return render(request, "_records.html", actor=actor, records=records, **page_values(request))


@router.get("/campaigns/{campaign_id}/records/{record_id}")
async def record_part(request: Request, campaign_id: IntId, record_id: BigIntId) -> Response:
    """One record delivered to the agent (404 for any other); the whole workspace without
    htmx."""
    dispenser = dispenser_of(request)
    full = not is_htmx(request)

    def read(agent: Actor) -> tuple[Delivery, View | None]:
        record = dispenser.delivery(agent, campaign_id, record_id)
        return record, gather(dispenser, agent, records=True) if full else None

    actor, (record, view) = await as_agent(request, read)
    if view is not None:
        return workspace_page(request, actor, view, notices=[])
    return render(request, "_record.html", actor=actor, record=record, **page_values(request))


@router.get("/campaigns/{campaign_id}/notice")
async def notice_part(request: Request, campaign_id: IntId) -> Response:
    """The *Campaign Started / Stopped / Recycled* notice, with Get Record or OK."""
    event = request.query_params.get("event", "start")
    actor, campaigns = await as_agent(
        request, lambda agent: dispenser_of(request).my_campaigns(agent)
    )
    campaign = next((c for c in campaigns if c.id == campaign_id), None)
    return render(
        request,
        "_notice.html",
        actor=actor,
        campaign=campaign,
        event=event if event in ("start", "stop", "recycle") else "start",
        **page_values(request),
    )


# --- actions on a campaign ----------------------------------------------------------------------


@router.post("/campaigns/{campaign_id}/login")
async def log_in(request: Request, campaign_id: IntId) -> Response:
    await checked_form(request)

    def work(agent: Actor, dispenser: Dispenser) -> Outcome:
        dispenser.login(agent, campaign_id)
        name = campaign_name(dispenser, agent, campaign_id)
        return Outcome([Notice(m.LOGGED_IN, {"campaign": name}, "success")])

    return await act(request, work)


@router.post("/campaigns/{campaign_id}/logout")
async def log_out(request: Request, campaign_id: IntId) -> Response:
    await checked_form(request)

    def work(agent: Actor, dispenser: Dispenser) -> Outcome:
        name = campaign_name(dispenser, agent, campaign_id)
        dispenser.logout(agent, campaign_id)
        return Outcome([Notice(m.LOGGED_OUT, {"campaign": name}, "success")])

    return await act(request, work)


@router.post("/campaigns/{campaign_id}/get-record")
async def get_record(request: Request, campaign_id: IntId) -> Response:
    await checked_form(request)

    def work(agent: Actor, dispenser: Dispenser) -> Outcome:
        result = dispenser.get_record(agent, campaign_id)
        if isinstance(result, NoRecord):
            name = campaign_name(dispenser, agent, campaign_id)
            at = when(request, result.next_retry_at)
            return Outcome([m.no_record_notice(result.reason, name, at)])
        return Outcome([], show=(result.campaign_id, result.record_id))

    return await act(request, work)


@router.post("/campaigns/{campaign_id}/receiving")
async def receiving(request: Request, campaign_id: IntId) -> Response:
    """Direct push preview's Get Record (``on=1``) / Stop (``on=0``) toggle."""
    form = await checked_form(request)
    on = ReceivingIn(on=text_of(form, "on") == "1").on

    def work(agent: Actor, dispenser: Dispenser) -> Outcome:
        dispenser.set_receiving(agent, campaign_id, on)
        name = campaign_name(dispenser, agent, campaign_id)
        text = m.RECEIVING_ON if on else m.RECEIVING_OFF
        return Outcome([Notice(text, {"campaign": name}, "success")])

    return await act(request, work)


@router.post("/channels/{channel}")
async def set_channel(request: Request, channel: Channel) -> Response:
    """Ready (``ready=1``) / Not Ready (``ready=0``) on a channel."""
    form = await checked_form(request)
    ready = ReadyIn(ready=text_of(form, "ready") == "1").ready

    def work(agent: Actor, dispenser: Dispenser) -> Outcome:
        state = dispenser.set_channel(agent, channel, ready)
        return Outcome([Notice(m.CHANNEL_STATE[(channel.value, state[channel])], level="success")])

    return await act(request, work)
