"""Staleness rules in the console: every rule with its conditions, its last and next run, a
new rule, a rule changed, run now or deleted, and the latest runs with how many leads each
gave back to the general pool.

Each form is read into the API's own body
(:class:`~callhopper.api.routers.leads_admin.StalenessRuleCreate`) and calls
:class:`~callhopper.core.owners.OwnerService`, as ``/staleness-rules`` does, so a value the
API refuses is refused here with the same reason, naming the field. The runs are
``GET /staleness-runs``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from callhopper.api.ids import IntId
from callhopper.api.routers.leads_admin import StalenessRuleCreate
from callhopper.domain.actors import Actor
from callhopper.domain.lead_owners import StalenessRule, StalenessRuleSpec
from callhopper.domain.rights import Right
from callhopper.web.console.common import (
    CONSOLE_PATH,
    STALENESS_READERS,
    ConsoleRoute,
    console_user,
    page,
    services,
)
from callhopper.web.console.forms import Again, form_action, ticked, validated, whole_number
from callhopper.web.messages import N_, Notice
from callhopper.web.pages.common import text_of

router = APIRouter(
    prefix=f"{CONSOLE_PATH}/staleness", route_class=ConsoleRoute, include_in_schema=False
)

STALENESS = f"{CONSOLE_PATH}/staleness"
RUNS_SHOWN = 50
RULE_CREATED = N_("Staleness rule %(rule)s created: its first run is due now.")
RULE_SAVED = N_("Staleness rule %(rule)s is saved.")
RULE_DELETED = N_("Staleness rule %(rule)s is deleted; the leads it released stay released.")
RULE_RAN = N_("Staleness rule %(rule)s ran: %(n)s leads went back to the general pool.")


def values_of(rule: StalenessRule | None) -> dict[str, Any]:
    """What the form shows: the rule's settings, or those of a new rule."""
    spec = rule.spec if rule else StalenessRuleSpec(name="")
    return {
        "name": spec.name,
        "list_id": "" if spec.list_id is None else str(spec.list_id),
        "statuses": ", ".join(spec.statuses),
        "not_called_days": "" if spec.not_called_days is None else str(spec.not_called_days),
        "owner_deactivated": spec.owner_deactivated,
        "every_minutes": str(spec.every_minutes),
        "enabled": spec.enabled,
    }


def sent_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: text_of(form, name).strip()
        for name in ("name", "list_id", "statuses", "not_called_days", "every_minutes")
    }
    values.update(owner_deactivated=ticked(form, "owner_deactivated"),
                  enabled=ticked(form, "enabled"))  # fmt: skip
    return values


def spec_of(form: FormData) -> StalenessRuleSpec:
    """The form as a rule, checked as the API checks its body."""
    values = sent_values(form)
    checked = validated(
        StalenessRuleCreate,
        {
            **values,
            "list_id": whole_number(form, "list_id"),
            "statuses": [s.strip() for s in values["statuses"].split(",") if s.strip()],
            "not_called_days": whole_number(form, "not_called_days"),
            "every_minutes": whole_number(form, "every_minutes"),
        },
    )
    return StalenessRuleSpec(**{**checked.model_dump(), "statuses": tuple(checked.statuses)})


# --- the pages ----------------------------------------------------------------------------------


async def render_rules(
    request: Request,
    status: int = 200,
    notices: list[Notice] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    def look(_actor: Actor) -> Any:
        found = services(request)
        lists = {s.contact_list.id: s.contact_list.name for s in found.lists.all()}
        return found.owners.rules(), found.owners.runs(limit=RUNS_SHOWN), lists

    actor, (rules, runs, lists) = await console_user(request, look, *STALENESS_READERS)
    return page(
        request, "staleness.html", actor, status=status, notices=notices or [], rules=rules,
        runs=runs, lists=lists, names={r.id: r.name for r in rules},
        values=values or values_of(None), manage=actor.can(Right.LEAD_MASS_EDIT),
    )  # fmt: skip


@router.get("")
async def rules_page(request: Request) -> Response:
    return await render_rules(request)


def _again_with(form_values: dict[str, Any]) -> Again:
    async def again(request: Request, status: int, notices: list[Notice]) -> Response:
        return await render_rules(request, status, notices, values=form_values)

    return again


@router.post("")
async def create_rule(request: Request) -> Response:
    sent: dict[str, Any] = {}

    def create(actor: Actor, form: FormData) -> Notice:
        sent.update(sent_values(form))
        rule = services(request).owners.create_rule(actor, spec_of(form))
        return Notice(RULE_CREATED, {"rule": rule.name}, "success")

    return await form_action(request, create, Right.LEAD_MASS_EDIT, _again_with(sent), STALENESS)


async def render_rule(
    request: Request,
    rule_id: int,
    status: int = 200,
    notices: list[Notice] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    def look(_actor: Actor) -> Any:
        found = services(request)
        lists = {s.contact_list.id: s.contact_list.name for s in found.lists.all()}
        return found.owners.rule(rule_id), found.owners.runs(rule_id, limit=RUNS_SHOWN), lists

    actor, (rule, runs, lists) = await console_user(request, look, *STALENESS_READERS)
    return page(
        request, "staleness_rule.html", actor, status=status, notices=notices or [], rule=rule,
        runs=runs, lists=lists, values=values or values_of(rule),
        manage=actor.can(Right.LEAD_MASS_EDIT),
    )  # fmt: skip


@router.get("/{rule_id}")
async def rule_page(request: Request, rule_id: IntId) -> Response:
    return await render_rule(request, rule_id)


@router.post("/{rule_id}")
async def save_rule(request: Request, rule_id: IntId) -> Response:
    """Every setting of the rule, as the form shows them (its last run stays)."""
    sent: dict[str, Any] = {}

    def save(actor: Actor, form: FormData) -> Notice:
        sent.update(sent_values(form))
        changes = dataclasses.asdict(spec_of(form))
        rule = services(request).owners.update_rule(actor, rule_id, changes)
        return Notice(RULE_SAVED, {"rule": rule.name}, "success")

    async def again(request: Request, status: int, notices: list[Notice]) -> Response:
        return await render_rule(request, rule_id, status, notices, values=sent)

    return await form_action(request, save, Right.LEAD_MASS_EDIT, again, f"{STALENESS}/{rule_id}")


@router.post("/{rule_id}/run")
async def run_rule(request: Request, rule_id: IntId) -> Response:
    """Run the rule now (even when disabled)."""

    def run(actor: Actor, form: FormData) -> Notice:
        owners = services(request).owners
        name = owners.rule(rule_id).name
        released = owners.run_rule(actor, rule_id)
        return Notice(RULE_RAN, {"rule": name, "n": str(released)}, "success")

    return await form_action(request, run, Right.LEAD_MASS_EDIT, render_rules, STALENESS)


@router.post("/{rule_id}/delete")
async def delete_rule(request: Request, rule_id: IntId) -> Response:
    def delete(actor: Actor, form: FormData) -> Notice:
        owners = services(request).owners
        name = owners.rule(rule_id).name
        owners.delete_rule(actor, rule_id)
        return Notice(RULE_DELETED, {"rule": name}, "success")

    return await form_action(request, delete, Right.LEAD_MASS_EDIT, render_rules, STALENESS)
