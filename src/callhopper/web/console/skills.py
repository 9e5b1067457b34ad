"""Skills in the console: a lead filter built from sets of groups of items (each item a
field, an operator of the lead filter syntax and its value), saved as a skill, and given to
agents.

The builder (:mod:`callhopper.web.console.filter_builder`) assembles the filter from the
domain's own pieces, so it checks and writes a filter exactly as the API does;
:meth:`~callhopper.core.queues.QueueService.create_skill` stores it and
:meth:`~callhopper.core.users.UserService.set_skills` gives it to agents.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from callhopper.domain.actors import Actor
from callhopper.domain.errors import CallhopperError
from callhopper.domain.rights import Right
from callhopper.web.console.common import (
    CONSOLE_PATH,
    ConsoleRoute,
    console_user,
    page,
    refusal,
    services,
)
from callhopper.web.console.filter_builder import (
    OPS,
    Draft,
    blank,
    draft_of,
    needed_filter,
    step_of,
    stepped,
)
from callhopper.web.messages import N_, Notice
from callhopper.web.pages.common import checked_form, redirect, text_of

router = APIRouter(
    prefix=f"{CONSOLE_PATH}/skills", route_class=ConsoleRoute, include_in_schema=False
)

SKILLS = f"{CONSOLE_PATH}/skills"
#: The name of the builder's fields.
PREFIX = "filter"
SKILL_SAVED = N_("Skill %(skill)s saved with the filter %(filter)s.")
SKILLS_GIVEN = N_("%(skill)s was given to %(n)s agents.")


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
    draft: Draft,
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
        draft=draft,
        ops=OPS,
        prefix=PREFIX,
        gives=actor.can(Right.USER_MANAGE),
        **looked,
    )


@router.get("")
async def skills_page(request: Request) -> Response:
    actor, looked = await console_user(request, lambda _a: _look(request), Right.QUEUE_MANAGE)
    return _page(request, actor, looked, {}, blank())


@router.post("")
async def create_skill(request: Request) -> Response:
    form = await checked_form(request)
    values = {"name": text_of(form, "name")}
    draft = draft_of(form, PREFIX)
    step = step_of(form, PREFIX)

    def create(actor: Actor) -> Any:
        try:
            if step is not None:
                return None, (stepped(draft, step), None, _look(request))
            expression = needed_filter(draft).to_text()
            skill = services(request).admin.queues.create_skill(
                actor, name=text_of(form, "name"), expression=expression
            )
            return skill, None
        except CallhopperError as exc:
            return None, (draft, exc, _look(request))

    actor, (skill, again) = await console_user(request, create, Right.QUEUE_MANAGE)
    if again is not None:
        shown, exc, looked = again
        if exc is None:  # an add or remove step of the builder: the form again, nothing saved
            return _page(request, actor, looked, values, shown)
        notices = [refusal(exc)]
        return _page(request, actor, looked, values, shown, status=422, notices=notices)
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
