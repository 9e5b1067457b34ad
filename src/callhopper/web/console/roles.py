"""Roles and rights in the console: every role with its rights, a custom role made from
another one without some of its rights, a custom role's rights and description changed,
and a custom role no user has deleted. Giving a user a role is on the users page.

Each form calls :class:`~callhopper.core.users.UserService`, as the API's ``/roles``
endpoints do: the built-in roles cannot change, and nobody grants a right they lack.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from callhopper.domain.actors import Actor
from callhopper.domain.rights import Right
from callhopper.web.console.common import CONSOLE_PATH, ConsoleRoute, console_user, page, services
from callhopper.web.console.forms import chosen, form_action
from callhopper.web.messages import N_, Notice
from callhopper.web.pages.common import text_of

router = APIRouter(
    prefix=f"{CONSOLE_PATH}/roles", route_class=ConsoleRoute, include_in_schema=False
)

ROLES = f"{CONSOLE_PATH}/roles"
ROLE_CREATED = N_("Role %(role)s created with %(n)s rights.")
ROLE_SAVED = N_("Role %(role)s is saved.")
ROLE_DELETED = N_("Role %(role)s is deleted.")
#: What each right lets its holder do, as the page says it beside the right's name.
RIGHT_WORDS = {
    Right.USER_MANAGE: N_("Create and change users, their roles and tokens"),
    Right.QUEUE_MANAGE: N_("Create queues and skills, choose queue members"),
    Right.CONTACT_LIST_MANAGE: N_("Create, import and change contact lists"),
    Right.CONTACT_LIST_OWNERSHIP_CONTROL: N_("See and release campaign ownership of records"),
    Right.LEAD_MASS_EDIT: N_("Change lead owners, one by one or in bulk; staleness rules"),
    Right.CAMPAIGN_MANAGE: N_("Create, change, start and stop campaigns"),
    Right.WRAPUP_MANAGE: N_("Create and change wrap-up code sets"),
    Right.DNC_MANAGE: N_("Change do-not-call lists"),
    Right.REPORT_VIEW: N_("Read campaigns, lists, dashboards and reports"),
    Right.AUDIT_VIEW: N_("Read the audit log"),
    Right.AGENT_WORK: N_("Work records in campaigns (the agent workspace)"),
    Right.TELEPHONY_ROUTE: N_("Ask how to route an inbound call (telephony integrations)"),
}
assert set(RIGHT_WORDS) == set(Right)
#: The built-in roles' descriptions in the page's language (the stored ones, which the API
#: shows, are English and cannot change).
BUILTIN_WORDS = {
    "admin": N_("Super admin: every right."),
    "supervisor": N_("Monitors campaigns and reports; no ownership control."),
    "agent": N_("Works the records delivered to them."),
    "telephony": N_("A telephony integration: routes inbound calls."),
}


async def render_roles(
    request: Request, status: int = 200, notices: list[Notice] | None = None
) -> Response:
    def look(_actor: Actor) -> Any:
        users = services(request).admin.users
        return users.roles(), users.rights()

    actor, (roles, rights) = await console_user(request, look, Right.USER_MANAGE)
    return page(
        request, "roles.html", actor, status=status, notices=notices or [], roles=roles,
        rights=rights, right_words={r.value: w for r, w in RIGHT_WORDS.items()},
        builtin_words=BUILTIN_WORDS,
    )  # fmt: skip


@router.get("")
async def roles_page(request: Request) -> Response:
    return await render_roles(request)


async def _role_action(request: Request, work: Any) -> Response:
    return await form_action(request, work, Right.USER_MANAGE, render_roles, ROLES)


@router.post("")
async def create_role(request: Request) -> Response:
    """A custom role: the rights of ``based_on`` without the ticked ``without`` rights."""

    def create(actor: Actor, form: FormData) -> Notice:
        role = services(request).admin.users.create_role(
            actor,
            name=text_of(form, "name"),
            based_on=text_of(form, "based_on"),
            without=chosen(form, "without"),
            description=text_of(form, "description"),
        )
        return Notice(ROLE_CREATED, {"role": role.name, "n": str(len(role.rights))}, "success")

    return await _role_action(request, create)


@router.post("/change")
async def change_role(request: Request) -> Response:
    """A custom role's description and rights (the ticked ones, all of them)."""

    def change(actor: Actor, form: FormData) -> Notice:
        role = services(request).admin.users.update_role(
            actor,
            text_of(form, "role"),
            rights=chosen(form, "rights"),
            description=text_of(form, "description"),
        )
        return Notice(ROLE_SAVED, {"role": role.name}, "success")

    return await _role_action(request, change)


@router.post("/delete")
async def delete_role(request: Request) -> Response:
    def delete(actor: Actor, form: FormData) -> Notice:
        name = text_of(form, "role")
        services(request).admin.users.delete_role(actor, name)
        return Notice(ROLE_DELETED, {"role": name}, "success")

    return await _role_action(request, delete)
