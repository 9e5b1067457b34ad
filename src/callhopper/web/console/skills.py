"""Skills in the console: a lead filter built from groups of conditions (each condition a
field, an operator of the lead filter syntax and its value; the conditions of a group all
hold, and any one group is enough), saved as a skill, and given to agents.

The page assembles the filter from the domain's own pieces
(:class:`~callhopper.domain.filters.model.Filter`), so it checks and writes a filter exactly
as the API does; :meth:`~callhopper.core.queues.QueueService.create_skill` stores it and
:meth:`~callhopper.core.users.UserService.set_skills` gives it to agents.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from callhopper.domain.actors import Actor
from callhopper.domain.errors import CallhopperError, InvalidInput
from callhopper.domain.filters.model import (
    EMPTINESS_OPS,
    LIST_OPS,
    Condition,
    Filter,
    Group,
    Op,
)
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
    prefix=f"{CONSOLE_PATH}/skills", route_class=ConsoleRoute, include_in_schema=False
)

SKILLS = f"{CONSOLE_PATH}/skills"
#: The builder's slots: groups joined by OR, conditions joined by AND in each.
GROUPS = 3
CONDITIONS = 3
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
OPS = {
    Op.EQ: N_("is"),
    Op.NE: N_("is not"),
    Op.LT: N_("is less than"),
    Op.LE: N_("is at most"),
    Op.GT: N_("is more than"),
    Op.GE: N_("is at least"),
    Op.IN: N_("is one of (separated by commas)"),
    Op.NOT_IN: N_("is none of (separated by commas)"),
    Op.EMPTY: N_("is empty"),
    Op.NOT_EMPTY: N_("is not empty"),
}
SKILL_SAVED = N_("Skill %(skill)s saved with the filter %(filter)s.")
SKILLS_GIVEN = N_("%(skill)s was given to %(n)s agents.")


def _value(raw: str) -> str | float:
    """A number when it is written as one, else the text."""
    raw = raw.strip()
    return float(raw) if _NUMBER.match(raw) else raw


def filter_of(form: FormData) -> Filter:
    """The builder's groups and conditions as a lead filter (empty slots are left out)."""
    groups = []
    for g in range(GROUPS):
        conditions = []
        for c in range(CONDITIONS):
            field = text_of(form, f"field-{g}-{c}").strip()
            if not field:
                continue
            op = Op(text_of(form, f"op-{g}-{c}") or Op.EQ.value)
            raw = text_of(form, f"value-{g}-{c}")
            if op in EMPTINESS_OPS:
                values: tuple[str | float, ...] = ()
            elif op in LIST_OPS:
                values = tuple(_value(v) for v in raw.split(",") if v.strip())
            else:
                values = (_value(raw),)
            conditions.append(Condition(field, op, values))
        if conditions:
            groups.append(Group(tuple(conditions)))
    if not groups:
        raise InvalidInput("the filter needs at least one condition", field="filter")
    return Filter(tuple(groups))


def _look(request: Request) -> dict[str, Any]:
    found = services(request).admin
    return {
        "skills": found.queues.skills(),
        "agents": [d.user for d in found.users.users(role="agent", active=True)],
    }


def _page(
    request: Request,
    actor: Actor,
    looked: dict[str, Any],
    values: dict[str, str],
    *,
    status: int = 200,
    notices: list[Notice] | None = None,
) -> Response:
    return page(
        request,
        "skills.html",
        actor,
        status=status,
        notices=notices or [],
        values=values,
        ops=OPS,
        groups=range(GROUPS),
        conditions=range(CONDITIONS),
        gives=actor.can(Right.USER_MANAGE),
        **looked,
    )


@router.get("")
async def skills_page(request: Request) -> Response:
    actor, looked = await console_user(request, lambda _a: _look(request), Right.QUEUE_MANAGE)
    return _page(request, actor, looked, {})


@router.post("")
async def create_skill(request: Request) -> Response:
    form = await checked_form(request)
    values = {k: v for k, v in form.items() if isinstance(v, str)}

    def create(actor: Actor) -> Any:
        try:
            expression = filter_of(form).to_text()
            skill = services(request).admin.queues.create_skill(
                actor, name=text_of(form, "name"), expression=expression
            )
            return skill, None
        except CallhopperError as exc:
            return None, (exc, _look(request))

    actor, (skill, refused) = await console_user(request, create, Right.QUEUE_MANAGE)
    if refused is not None:
        exc, looked = refused
        return _page(request, actor, looked, values, status=422, notices=[refusal(exc)])
    notice = Notice(SKILL_SAVED, {"skill": skill.name, "filter": skill.expression}, "success")
    return redirect(SKILLS, [notice])


@router.post("/{skill_id}/agents")
async def give_skill(request: Request, skill_id: int) -> Response:
    """Give the skill to the chosen agents (each keeps the skills they had)."""
    form = await checked_form(request)
    chosen = [v for v in form.getlist("agents") if isinstance(v, str)]

    def give(actor: Actor) -> Any:
        found = services(request).admin
        skill = found.queues.skill(skill_id)
        for user_id in chosen:
            held = found.users.user(user_id).skill_ids
            found.users.set_skills(actor, user_id, sorted({*held, skill_id}))
        return skill

    _actor, skill = await console_user(request, give, Right.USER_MANAGE)
    return redirect(
        SKILLS, [Notice(SKILLS_GIVEN, {"skill": skill.name, "n": str(len(chosen))}, "success")]
    )
