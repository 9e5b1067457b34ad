"""Campaigns in the console: the list (status, mode, the agent-owned icon that opens the
error monitor), the form with every setting (the fields fixed once a campaign exists are
shown read-only, with the reason), start / stop / recycle, and the error monitor.

The form is read into the API's own bodies (:class:`~callhopper.api.schemas.CampaignCreate`
and :class:`~callhopper.api.schemas.CampaignUpdate`), so a value the API refuses is refused
here with the same reason.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from callhopper.api.ids import IntId
from callhopper.api.schemas import CampaignCreate, CampaignUpdate
from callhopper.core.campaigns import IMMUTABLE
from callhopper.domain.actors import Actor
from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaign_values import RESULT_COLUMNS, Campaign
from callhopper.domain.campaigns import CampaignAction, CampaignSettings
from callhopper.domain.contacts import validation_message
from callhopper.domain.errors import CallhopperError, InvalidInput
from callhopper.domain.filters import parse_filter
from callhopper.domain.hopper import SecondaryOrder
from callhopper.domain.ownership import OwnerError, OwnerOrder
from callhopper.domain.rights import Right
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
from callhopper.web.console.filter_builder import OPS as FILTER_OPS
from callhopper.web.console.filter_builder import (
    Draft,
    blank,
    draft_from,
    draft_of,
    filter_of,
    step_of,
    stepped,
)
from callhopper.web.console.forms import whole_number
from callhopper.web.messages import N_, Notice
from callhopper.web.pages.common import checked_form, redirect, text_of
from callhopper.web.views import MODES, STATUS

router = APIRouter(
    prefix=f"{CONSOLE_PATH}/campaigns", route_class=ConsoleRoute, include_in_schema=False
)

CAMPAIGNS = f"{CONSOLE_PATH}/campaigns"
ERROR_RECORDS_PAGE = 100
SORT_KEYS = 2
#: The name of the default lead filter builder's fields.
FILTER_PREFIX = "lead_filter"
DAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
#: Why each fixed field cannot change, as the form shows it.
FIXED_REASON = {
    "mode": N_("The dialing mode is fixed once the campaign exists: create a new campaign."),
    "queue_id": N_("The queue is fixed once the campaign exists: agents are logged in to it."),
    "list_id": N_("The contact list is fixed once the campaign exists: its records are taken."),
    "agent_owned_column": N_(
        "The agent-owned column is fixed once the campaign exists: records are routed by it."
    ),
    "enforce_lead_ownership": N_(
        "Lead ownership is fixed once the campaign exists: its hoppers are built on it."
    ),
}
assert set(FIXED_REASON) == set(IMMUTABLE)
OWNER_ORDERS = {
    OwnerOrder.EMAIL_FIRST: N_("Records naming an email first"),
    OwnerOrder.USER_ID_FIRST: N_("Records naming a user id first"),
}
SECONDARY_ORDERS = {
    SecondaryOrder.FIFO: N_("Oldest first (FIFO)"),
    SecondaryOrder.LIFO: N_("Newest first (LIFO)"),
}
OWNER_ERRORS = {
    OwnerError.MISSING_VALUE: N_("No agent named"),
    OwnerError.INVALID_EMAIL: N_("Not a valid email"),
    OwnerError.UNKNOWN_USER_ID: N_("Unknown user"),
    OwnerError.INACTIVE_USER: N_("Deactivated user"),
    OwnerError.NOT_IN_QUEUE: N_("Not in the campaign's queue"),
}
ACTION_DONE = {
    CampaignAction.START: N_("%(campaign)s is running."),
    CampaignAction.STOP: N_("%(campaign)s is stopping: agents finish the records they have."),
    CampaignAction.RECYCLE: N_("%(campaign)s was recycled: its records start a new pass."),
}
SAVED = N_("%(campaign)s is saved.")


# --- the form's values --------------------------------------------------------------------------


def values_of(campaign: Campaign | None) -> dict[str, Any]:
    """What the form shows: the campaign's values, or the defaults of a new one."""
    settings = campaign.settings if campaign else CampaignSettings()
    window = campaign.calling_window if campaign else CallingWindow()
    values: dict[str, Any] = {
        "name": campaign.name if campaign else "",
        "description": campaign.description if campaign else "",
        "list_id": campaign.list_id if campaign else None,
        "queue_id": campaign.queue_id if campaign else None,
        "wrapup_set_id": campaign.wrapup_set_id if campaign else 1,
        "mode": campaign.mode.value if campaign else "preview",
        "agent_owned_column": (campaign.agent_owned_column or "") if campaign else "",
        "owner_order": campaign.owner_order.value if campaign else OwnerOrder.EMAIL_FIRST.value,
        "enforce_lead_ownership": campaign.enforce_lead_ownership if campaign else False,
        "window_start": window.start,
        "window_end": window.end,
        "window_days": list(window.days),
        "caller_ids": "\n".join(settings.caller_ids),
        **settings.model_dump(mode="json", exclude={"caller_ids"}),
    }
    sort = list(campaign.sort) if campaign else []
    for n in range(SORT_KEYS):
        values[f"sort-{n}"] = sort[n].column if n < len(sort) else ""
        values[f"sort-{n}-desc"] = sort[n].descending if n < len(sort) else False
    return values


def _days(form: FormData) -> list[int]:
    return [int(d) for d in form.getlist("window_days") if isinstance(d, str) and d.isdigit()]


def _settings(form: FormData) -> dict[str, Any]:
    checkbox = {"allow_skip", "reinsert_skipped", "allow_manual_dial"}
    numbers = {"lease_timeout_s", "preview_timeout_s", "accept_timeout_s", "hopper_level"}
    body: dict[str, Any] = {name: text_of(form, name) == "on" for name in checkbox}
    for name in numbers:
        value = whole_number(form, name)
        if value is not None or name == "preview_timeout_s":
            body[name] = value
    body["secondary_order"] = text_of(form, "secondary_order") or SecondaryOrder.FIFO.value
    built = filter_of(draft_of(form, FILTER_PREFIX))
    body["default_lead_filter"] = built.to_text() if built is not None else None
    body["caller_ids"] = [
        line.strip() for line in text_of(form, "caller_ids").splitlines() if line.strip()
    ]
    body["default_caller_id"] = text_of(form, "default_caller_id").strip() or None
    return body


def body_of(form: FormData, *, new: bool) -> dict[str, Any]:
    """The form as the API's JSON body (fixed fields only for a new campaign)."""
    body: dict[str, Any] = {
        "name": text_of(form, "name"),
        "description": text_of(form, "description"),
        "wrapup_set_id": whole_number(form, "wrapup_set_id"),
        "owner_order": text_of(form, "owner_order") or OwnerOrder.EMAIL_FIRST.value,
        "sort": [
            {"column": column, "descending": text_of(form, f"sort-{n}-desc") == "on"}
            for n in range(SORT_KEYS)
            if (column := text_of(form, f"sort-{n}"))
        ],
        "calling_window": {
            "start": text_of(form, "window_start"),
            "end": text_of(form, "window_end"),
            "days": _days(form),
        },
        "settings": _settings(form),
    }
    if new:
        body.update(
            list_id=whole_number(form, "list_id"),
            queue_id=whole_number(form, "queue_id"),
            mode=text_of(form, "mode"),
            agent_owned_column=text_of(form, "agent_owned_column") or None,
            enforce_lead_ownership=text_of(form, "enforce_lead_ownership") == "on",
        )
    return body


def _validated(model: type[CampaignCreate] | type[CampaignUpdate], body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc), field="campaign") from None


def _choices(request: Request) -> dict[str, Any]:
    """The lists, queues and wrap-up sets a campaign may use (in a worker thread)."""
    found = services(request)
    return {
        "lists": [s.contact_list for s in found.lists.all()],
        "queues": found.admin.queues.queues(),
        "wrapup_sets": found.admin.wrapup.code_sets(),
    }


def _form_page(
    request: Request,
    actor: Actor,
    campaign: Campaign | None,
    values: dict[str, Any],
    choices: dict[str, Any],
    *,
    draft: Draft | None = None,
    status: int = 200,
    notices: list[Notice] | None = None,
) -> Response:
    if draft is None:
        stored = values.get("default_lead_filter")
        draft = draft_from(parse_filter(stored) if stored else None)
    return page(
        request,
        "campaign_form.html",
        actor,
        status=status,
        notices=notices or [],
        campaign=campaign,
        values=values,
        fixed=FIXED_REASON if campaign else {},
        modes=MODES,
        owner_orders=OWNER_ORDERS,
        secondary_orders=SECONDARY_ORDERS,
        days=DAYS,
        sort_keys=range(SORT_KEYS),
        manage=actor.can(Right.CAMPAIGN_MANAGE),
        filter_prefix=FILTER_PREFIX,
        filter_draft=draft,
        filter_ops=FILTER_OPS,
        **choices,
    )


def _submitted(form: FormData, campaign: Campaign | None) -> dict[str, Any]:
    """The values the person sent, to show the form again as they left it."""
    values = values_of(campaign)
    for key in values:
        if key == "window_days":
            values[key] = _days(form)
        elif isinstance(values[key], bool):
            values[key] = text_of(form, key) == "on"
        elif key in form and not (campaign and key in FIXED_REASON):
            values[key] = text_of(form, key)
    return values


# --- the pages ----------------------------------------------------------------------------------


@router.get("")
async def campaigns_page(request: Request) -> Response:
    def look(_actor: Actor) -> Any:
        found = services(request)
        campaigns = found.campaigns.all()
        errors = {
            c.id: sum(found.campaigns.error_counts(c.id).values())
            for c in campaigns
            if c.agent_owned_column
        }
        lists = {s.contact_list.id: s.contact_list.name for s in found.lists.all()}
        return campaigns, errors, lists

    actor, (campaigns, errors, lists) = await console_user(request, look, *READERS)
    return page(
        request,
        "campaigns.html",
        actor,
        campaigns=campaigns,
        errors=errors,
        lists=lists,
        modes=MODES,
        status_words=STATUS,
        manage=actor.can(Right.CAMPAIGN_MANAGE),
    )


@router.get("/new")
async def new_campaign(request: Request) -> Response:
    actor, choices = await console_user(
        request, lambda _a: _choices(request), Right.CAMPAIGN_MANAGE
    )
    return _form_page(request, actor, None, values_of(None), choices)


@router.post("/new")
async def create_campaign(request: Request) -> Response:
    form = await checked_form(request)
    step = step_of(form, FILTER_PREFIX)
    if step is not None:
        return await _builder_step(request, form, step, None)

    def create(actor: Actor) -> Any:
        try:
            body = _validated(CampaignCreate, body_of(form, new=True))
            return services(request).campaigns.create(actor, body.spec()), None
        except CallhopperError as exc:
            return None, (exc, _choices(request))

    actor, (created, refused) = await console_user(request, create, Right.CAMPAIGN_MANAGE)
    if refused is not None:
        exc, choices = refused
        values = _submitted(form, None)
        return _form_page(
            request,
            actor,
            None,
            values,
            choices,
            draft=draft_of(form, FILTER_PREFIX) or blank(),
            status=422,
            notices=[refusal(exc)],
        )
    notices = [Notice(SAVED, {"campaign": created.campaign.name}, "success")]
    return redirect(f"{CAMPAIGNS}/{created.campaign.id}", notices)


@router.get("/{campaign_id}")
async def campaign_page(request: Request, campaign_id: IntId) -> Response:
    def look(_actor: Actor) -> Any:
        return services(request).campaigns.get(campaign_id), _choices(request)

    actor, (campaign, choices) = await console_user(request, look, *READERS)
    return _form_page(request, actor, campaign, values_of(campaign), choices)


@router.post("/{campaign_id}")
async def update_campaign(request: Request, campaign_id: IntId) -> Response:
    form = await checked_form(request)
    step = step_of(form, FILTER_PREFIX)
    if step is not None:
        return await _builder_step(request, form, step, campaign_id)

    def update(actor: Actor) -> Any:
        try:
            body = _validated(CampaignUpdate, body_of(form, new=False))
            changes = {k: getattr(body, k) for k in body.model_fields_set}
            return services(request).campaigns.update(actor, campaign_id, changes), None
        except CallhopperError as exc:
            campaign = services(request).campaigns.get(campaign_id)
            return None, (exc, campaign, _choices(request))

    actor, (changed, refused) = await console_user(request, update, Right.CAMPAIGN_MANAGE)
    if refused is not None:
        exc, campaign, choices = refused
        values = _submitted(form, campaign)
        return _form_page(
            request,
            actor,
            campaign,
            values,
            choices,
            draft=draft_of(form, FILTER_PREFIX) or blank(),
            status=422,
            notices=[refusal(exc)],
        )
    notices = [Notice(SAVED, {"campaign": changed.campaign.name}, "success")]
    return redirect(f"{CAMPAIGNS}/{campaign_id}", notices)


async def _builder_step(
    request: Request, form: FormData, step: str, campaign_id: int | None
) -> Response:
    """An add or remove step of the default lead filter's builder: the form again, as it was
    sent, with the step done; nothing is saved."""

    def look(_actor: Actor) -> Any:
        campaign = services(request).campaigns.get(campaign_id) if campaign_id else None
        return campaign, _choices(request)

    actor, (campaign, choices) = await console_user(request, look, Right.CAMPAIGN_MANAGE)
    values = _submitted(form, campaign)
    try:
        draft = stepped(draft_of(form, FILTER_PREFIX), step)
    except InvalidInput as exc:
        return _form_page(
            request, actor, campaign, values, choices, status=422, notices=[refusal(exc)]
        )
    return _form_page(request, actor, campaign, values, choices, draft=draft)


@router.post("/{campaign_id}/state/{action}")
async def change_state(request: Request, campaign_id: IntId, action: CampaignAction) -> Response:
    """Start, stop or recycle; back to the page the button was on."""
    form = await checked_form(request)
    _actor, campaign = await console_user(
        request,
        lambda actor: services(request).campaigns.change_state(actor, campaign_id, action),
        Right.CAMPAIGN_MANAGE,
    )
    back = text_of(form, "next")
    target = back if back.startswith(f"{CAMPAIGNS}") else CAMPAIGNS
    return redirect(target, [Notice(ACTION_DONE[action], {"campaign": campaign.name}, "success")])


@router.get("/{campaign_id}/errors")
async def error_monitor(request: Request, campaign_id: IntId) -> Response:
    """The error monitor of an agent-owned campaign: undeliverable records by reason, and
    the records behind the chosen reason."""
    reason = request.query_params.get("reason") or None
    if reason is not None and reason not in {e.value for e in OwnerError}:
        reason = None

    def look(_actor: Actor) -> Any:
        found = services(request).campaigns
        campaign = found.get(campaign_id)
        counts = found.error_counts(campaign_id)
        records = found.error_records(
            campaign_id, reason=reason, after_id=0, limit=ERROR_RECORDS_PAGE
        )
        return campaign, counts, records

    actor, (campaign, counts, records) = await console_user(request, look, *READERS)
    return page(
        request,
        "errors.html",
        actor,
        campaign=campaign,
        counts=counts,
        records=records,
        reason=reason,
        reasons=OWNER_ERRORS,
        limit=ERROR_RECORDS_PAGE,
    )


@router.get("/{campaign_id}/results.csv")
async def results_csv(request: Request, campaign_id: IntId) -> Response:
    """The campaign's results as CSV (every record, streamed; as ``callhopper export``)."""
    found = services(request).campaigns
    await console_user(request, lambda _a: found.get(campaign_id), *READERS)
    rows = (row.values() for row in found.results(campaign_id))
    return csv_download(f"campaign-{campaign_id}-results.csv", RESULT_COLUMNS, rows)
