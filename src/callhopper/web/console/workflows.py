"""Workflow rules and their webhook deliveries in the console.

A rule is edited as a form: its name, whether it is on, the wrap-up codes and campaigns that
fire it, and its actions in this order: what happens to the lead's owner (nothing, the
submitting agent, the general pool, or what the wrap-up code says), fields of the record
to set, and the URLs to send a signed webhook to. The deliveries list shows every webhook
message with where it is (pending, retrying, delivered, failed), its attempts and last
error, and retries a failed one.

Everything is :class:`~callhopper.core.workflows.WorkflowService`, the service of the API's
``/workflow-rules`` and ``/webhooks``, with the same right (``campaign.manage``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from callhopper.api.errors import status_of
from callhopper.api.ids import BigIntId, IntId
from callhopper.domain.actors import Actor
from callhopper.domain.errors import CallhopperError, InvalidInput
from callhopper.domain.rights import Right
from callhopper.domain.webhooks import WebhookStage
from callhopper.domain.workflows import MAX_ACTIONS, ActionType, WorkflowRule
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

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

WORKFLOWS = f"{CONSOLE_PATH}/workflows"
#: Rows for fields to set that a new rule's form shows.
FIELD_ROWS = 2
#: Deliveries shown per page.
DELIVERIES_PAGE = 50
OWNER_ACTIONS = {
    "": N_("Leave the owner as it is"),
    ActionType.SET_OWNER_TO_AGENT: N_("The agent who wrapped up becomes the owner"),
    ActionType.CLEAR_OWNER: N_("Clear the owner (back to the general pool)"),
    ActionType.CODE_OWNER_ACTION: N_("Do what the wrap-up code's owner action says"),
}
STAGES = {
    WebhookStage.PENDING: N_("pending"),
    WebhookStage.RETRYING: N_("retrying"),
    WebhookStage.DELIVERED: N_("delivered"),
    WebhookStage.FAILED: N_("failed"),
}
RULE_SAVED = N_("Workflow rule %(rule)s is saved.")
RULE_DELETED = N_(
    "Workflow rule %(rule)s is deleted; %(n)s of its webhooks not sent yet are marked failed."
)
RETRIED = N_("Webhook %(id)s will be sent again now.")


# --- the form -----------------------------------------------------------------------------------


def values_of(rule: WorkflowRule | None) -> dict[str, Any]:
    """What the form shows: the rule's settings, or those of a new rule."""
    actions = list(rule.actions) if rule else []
    fields = [a for a in actions if a["type"] == ActionType.SET_FIELD]
    owner = next((a["type"] for a in actions if a["type"] in OWNER_ACTIONS), "")
    rows = [
        {"field": a["field"], "value": "" if a["value"] is None else str(a["value"])}
        for a in fields
    ]
    # One empty row more than the rule has (at least FIELD_ROWS), to add a field.
    rows += [{"field": "", "value": ""}] * max(1, FIELD_ROWS - len(rows))
    return {
        "name": rule.name if rule else "",
        "enabled": rule.enabled if rule else True,
        "codes": ", ".join(rule.trigger.codes) if rule else "",
        "campaign_ids": [str(c) for c in rule.trigger.campaign_ids] if rule else [],
        "owner_action": owner,
        "fields": rows,
        "webhooks": "\n".join(a["url"] for a in actions if a["type"] == ActionType.WEBHOOK),
    }


def _submitted(form: FormData) -> dict[str, Any]:
    """The form as it was sent, to show it again."""
    rows = []
    for n in range(MAX_ACTIONS):
        if f"field-{n}" not in form:
            break
        rows.append({"field": text_of(form, f"field-{n}"), "value": text_of(form, f"value-{n}")})
    return {
        "name": text_of(form, "name"),
        "enabled": text_of(form, "enabled") == "on",
        "codes": text_of(form, "codes"),
        "campaign_ids": [v for v in form.getlist("campaign_ids") if isinstance(v, str)],
        "owner_action": text_of(form, "owner_action"),
        "fields": rows,
        "webhooks": text_of(form, "webhooks"),
    }


def rule_of(values: dict[str, Any]) -> dict[str, Any]:
    """The form's values as the service's arguments (the API's body)."""
    campaign_ids = []
    for i, raw in enumerate(values["campaign_ids"]):
        if not raw.isdigit():
            raise InvalidInput(f"{raw!r} is not a campaign id", field=f"trigger.campaign_ids[{i}]")
        campaign_ids.append(int(raw))
    actions: list[dict[str, Any]] = []
    owner = values["owner_action"]
    if owner:
        actions.append({"type": owner})
    for row in values["fields"]:
        if row["field"].strip():
            value = row["value"].strip() or None  # an empty value clears the field
            actions.append({"type": "set_field", "field": row["field"].strip(), "value": value})
    for url in values["webhooks"].splitlines():
        if url.strip():
            actions.append({"type": "webhook", "url": url.strip()})
    return {
        "name": values["name"],
        "enabled": values["enabled"],
        "trigger": {
            "codes": [c.strip() for c in values["codes"].split(",") if c.strip()],
            "campaign_ids": campaign_ids,
        },
        "actions": actions,
    }


# --- the pages ----------------------------------------------------------------------------------


def _look(request: Request, query: dict[str, str]) -> dict[str, Any]:
    found = services(request)
    workflows = found.admin.workflows
    rule_id = int(query["rule"]) if query["rule"].isdigit() else None
    before_id = int(query["before"]) if query["before"].isdigit() else None
    stage = WebhookStage(query["stage"]) if query["stage"] in set(WebhookStage) else None
    deliveries = workflows.webhooks(
        stage=stage, rule_id=rule_id, before_id=before_id, limit=DELIVERIES_PAGE
    )
    return {
        "rules": workflows.rules(),
        "campaigns": found.campaigns.all(),
        "deliveries": deliveries,
        "next_before": deliveries[-1].id if len(deliveries) == DELIVERIES_PAGE else None,
    }


def _page(
    request: Request,
    actor: Actor,
    template: str,
    looked: dict[str, Any],
    *,
    status: int = 200,
    notices: list[Notice] | None = None,
    **values: Any,
) -> Response:
    return page(
        request,
        template,
        actor,
        status=status,
        notices=notices or [],
        owner_actions=OWNER_ACTIONS,
        stages=STAGES,
        **looked,
        **values,
    )


def _query(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "").strip() for k in ("stage", "rule", "before")}


@router.get(WORKFLOWS)
async def workflows_page(request: Request) -> Response:
    query = _query(request)
    actor, looked = await console_user(
        request, lambda _a: _look(request, query), Right.CAMPAIGN_MANAGE
    )
    return _page(request, actor, "workflows.html", looked, query=query, values=values_of(None))


@router.post(WORKFLOWS)
async def create_rule(request: Request) -> Response:
    form = await checked_form(request)
    values = _submitted(form)

    def create(actor: Actor) -> Any:
        try:
            rule = services(request).admin.workflows.create_rule(actor, **rule_of(values))
            return rule, None
        except CallhopperError as exc:
            return None, (exc, _look(request, _query(request)))

    actor, (rule, refused) = await console_user(request, create, Right.CAMPAIGN_MANAGE)
    if refused is not None:
        exc, looked = refused
        return _page(
            request,
            actor,
            "workflows.html",
            looked,
            status=422,
            notices=[refusal(exc)],
            query=_query(request),
            values=values,
        )
    return redirect(f"{WORKFLOWS}/{rule.id}", [Notice(RULE_SAVED, {"rule": rule.name}, "success")])


@router.get(WORKFLOWS + "/{rule_id}")
async def rule_page(request: Request, rule_id: IntId) -> Response:
    def look(_actor: Actor) -> Any:
        found = services(request)
        return found.admin.workflows.rule(rule_id), found.campaigns.all()

    actor, (rule, campaigns) = await console_user(request, look, Right.CAMPAIGN_MANAGE)
    return _page(
        request, actor, "workflow.html", {"campaigns": campaigns}, rule=rule, values=values_of(rule)
    )


@router.post(WORKFLOWS + "/{rule_id}")
async def update_rule(request: Request, rule_id: IntId) -> Response:
    form = await checked_form(request)
    values = _submitted(form)

    def update(actor: Actor) -> Any:
        workflows = services(request).admin.workflows
        try:
            return workflows.update_rule(actor, rule_id, **rule_of(values)), None
        except CallhopperError as exc:
            return None, (exc, workflows.rule(rule_id), services(request).campaigns.all())

    actor, (rule, refused) = await console_user(request, update, Right.CAMPAIGN_MANAGE)
    if refused is not None:
        exc, rule, campaigns = refused
        return _page(
            request,
            actor,
            "workflow.html",
            {"campaigns": campaigns},
            status=422,
            notices=[refusal(exc)],
            rule=rule,
            values=values,
        )
    notice = Notice(RULE_SAVED, {"rule": rule.name}, "success")
    return redirect(f"{WORKFLOWS}/{rule_id}", [notice])


@router.post(WORKFLOWS + "/{rule_id}/delete")
async def delete_rule(request: Request, rule_id: IntId) -> Response:
    await checked_form(request)

    def delete(actor: Actor) -> Any:
        workflows = services(request).admin.workflows
        rule = workflows.rule(rule_id)
        return rule, workflows.delete_rule(actor, rule_id)

    _actor, (rule, dropped) = await console_user(request, delete, Right.CAMPAIGN_MANAGE)
    notice = Notice(RULE_DELETED, {"rule": rule.name, "n": str(dropped)}, "success")
    return redirect(WORKFLOWS, [notice])


@router.post(CONSOLE_PATH + "/webhooks/{webhook_id}/retry")
async def retry_webhook(request: Request, webhook_id: BigIntId) -> Response:
    await checked_form(request)

    def retry(actor: Actor) -> Any:
        try:
            return services(request).admin.workflows.retry_webhook(actor, webhook_id), None
        except CallhopperError as exc:  # not failed, or its rule is gone: the list says why
            return None, (exc, _look(request, _query(request)))

    actor, (message, refused) = await console_user(request, retry, Right.CAMPAIGN_MANAGE)
    if refused is not None:
        exc, looked = refused
        return _page(
            request,
            actor,
            "workflows.html",
            looked,
            status=status_of(exc),
            notices=[refusal(exc)],
            query=_query(request),
            values=values_of(None),
        )
    notice = Notice(RETRIED, {"id": str(message.id)}, "success")
    return redirect(f"{WORKFLOWS}#deliveries", [notice])
