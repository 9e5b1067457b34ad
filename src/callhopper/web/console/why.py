""" "Why not?" for one record: whether it can be delivered (or dialled) now in a campaign
that uses its list and, if not, every reason with the time it ends where there is one.

The answer is :meth:`~callhopper.core.eligibility.EligibilityService.explain`, the one the
API gives (``GET /api/v1/campaigns/{id}/records/{id}/eligibility``), built from the
conditions the dispenser's claims check; this page only words it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from callhopper.api.ids import BigIntId, IntId
from callhopper.core.eligibility import READERS
from callhopper.domain.actors import Actor
from callhopper.domain.eligibility import BlockReason
from callhopper.web.console.common import CONSOLE_PATH, ConsoleRoute, console_user, page, services
from callhopper.web.messages import N_

router = APIRouter(
    prefix=f"{CONSOLE_PATH}/lists/{{list_id}}/records/{{record_id}}/why",
    route_class=ConsoleRoute,
    include_in_schema=False,
)

DELIVERABLE = N_("This record can be delivered now in %(campaign)s.")
#: Each reason, worded; ``%(until)s`` is its end in the viewer's time zone.
REASONS = {
    BlockReason.CAMPAIGN_NOT_RUNNING: N_("The campaign is not running."),
    BlockReason.FINAL: N_("The record is closed for this campaign (a final result)."),
    BlockReason.OWNER_ERROR: N_(
        "Its agent-owned value names nobody who may receive it (see the error monitor)."
    ),
    BlockReason.LEASED: N_("It is delivered to an agent now, until %(until)s."),
    BlockReason.HANDLED_THIS_PASS: N_(
        "It was handled in this pass without a retry: it comes back when the campaign is recycled."
    ),
    BlockReason.RETRY_SCHEDULED: N_("A retry is scheduled for %(until)s."),
    BlockReason.CALLBACK_SCHEDULED: N_("A callback is scheduled for %(until)s."),
    BlockReason.OWNED_BY_ANOTHER_CAMPAIGN: N_(
        "Another campaign on the list, %(campaign)s, owns it until %(until)s."
    ),
    BlockReason.OUT_WITH_ANOTHER_CAMPAIGN: N_(
        "An agent of another campaign has the contact now, until %(until)s."
    ),
    BlockReason.OUTSIDE_CALLING_WINDOW: N_(
        "It is outside the calling window in the contact's time zone until %(local)s "
        "(%(zone)s), which is %(until)s for you."
    ),
    BlockReason.DNC: N_("Every number of the record is on a do-not-call list."),
    BlockReason.NOT_IN_HOPPER: N_(
        "It is not in the hopper yet: the next hopper load decides whether it goes in."
    ),
    BlockReason.OWNER_NOT_IN_QUEUE: N_(
        "The agent it waits for, %(agent)s, is not in the campaign's queue."
    ),
    BlockReason.OWNER_INACTIVE: N_("The agent it waits for, %(agent)s, is deactivated."),
    BlockReason.OWNER_NOT_LOGGED_IN: N_(
        "The agent it waits for, %(agent)s, is not logged in to the campaign: it is "
        "delivered at their next Get Record."
    ),
    BlockReason.NO_AGENT_LOGGED_IN: N_("No agent of the campaign's queue is logged in to it."),
}
NO_EXPIRY = N_("no end")


@router.get("")
async def why_not(request: Request, list_id: IntId, record_id: BigIntId) -> Response:
    raw = request.query_params.get("campaign", "")
    chosen = int(raw) if raw.isdigit() else None

    def look(actor: Actor) -> Any:
        found = services(request)
        contact_list = found.lists.get(list_id).contact_list
        found.lists.record(actor, list_id, record_id)
        on_list = [c for c in found.campaigns.all() if c.list_id == list_id]
        campaign_id = chosen if chosen is not None else next((c.id for c in on_list), None)
        answer = None
        if campaign_id is not None:
            answer = found.eligibility.explain(actor, campaign_id, record_id)
        return contact_list, on_list, answer

    actor, (contact_list, on_list, answer) = await console_user(request, look, *READERS)
    names = {c.id: c.name for c in on_list}
    return page(
        request,
        "why.html",
        actor,
        list=contact_list,
        record_id=record_id,
        campaigns=on_list,
        answer=answer,
        campaign_name=names.get(answer.campaign_id, "") if answer else "",
        reasons=REASONS,
        deliverable=DELIVERABLE,
        no_expiry=NO_EXPIRY,
    )
