"""Users and queues in the console: create a user (with a role), give a user another role,
deactivate or reactivate one, reset a password, issue and revoke API tokens (a new token's
secret is shown once); create a queue, add and remove its members.

Each form calls :class:`~callhopper.core.users.UserService` or
:class:`~callhopper.core.queues.QueueService`, which check the actor's rights (a user may
only grant rights they hold) and audit every change, as for the API.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from callhopper.api.ids import IntId
from callhopper.domain.actors import Actor
from callhopper.domain.rights import Right
from callhopper.web.console.common import CONSOLE_PATH, ConsoleRoute, console_user, page, services
from callhopper.web.console.forms import form_action
from callhopper.web.messages import N_, Notice
from callhopper.web.pages.common import text_of

router = APIRouter(prefix=CONSOLE_PATH, route_class=ConsoleRoute, include_in_schema=False)

USERS = f"{CONSOLE_PATH}/users"
QUEUES = f"{CONSOLE_PATH}/queues"
USER_CREATED = N_("User %(user)s created.")
USER_ACTIVE = N_("%(user)s can sign in again.")
USER_INACTIVE = N_("%(user)s is deactivated: their sessions and tokens no longer work.")
ROLE_GIVEN = N_("%(user)s now has the role %(role)s.")
PASSWORD_SET = N_("The password of %(user)s is changed.")
TOKEN_ISSUED = N_("Token %(name)s for %(user)s: %(secret)s. Copy it now: it is not shown again.")
TOKEN_REVOKED = N_("The token is revoked.")
QUEUE_CREATED = N_("Queue %(queue)s created.")
MEMBERS_CHANGED = N_("The members of %(queue)s are saved.")


async def _render_users(
    request: Request, status: int = 200, notices: list[Notice] | None = None
) -> Response:
    def look(_actor: Actor) -> Any:
        found = services(request).admin.users
        people = found.users()
        tokens = {d.user.user_id: found.tokens(d.user.user_id) for d in people}
        return people, found.roles(), tokens

    actor, (people, roles, tokens) = await console_user(request, look, Right.USER_MANAGE)
    return page(
        request,
        "users.html",
        actor,
        status=status,
        notices=notices or [],
        people=people,
        roles=roles,
        tokens=tokens,
    )


@router.get("/users")
async def users_page(request: Request) -> Response:
    return await _render_users(request)


async def _user_action(request: Request, work: Any) -> Response:
    return await form_action(request, work, Right.USER_MANAGE, _render_users, USERS)


@router.post("/users")
async def create_user(request: Request) -> Response:
    def create(actor: Actor, form: Any) -> Notice:
        created = services(request).admin.users.create_user(
            actor,
            email=text_of(form, "email"),
            display_name=text_of(form, "display_name"),
            role=text_of(form, "role") or "agent",
            password=text_of(form, "password") or None,
            user_id=text_of(form, "user_id").strip() or None,
        )
        return Notice(USER_CREATED, {"user": created.user.user_id}, "success")

    return await _user_action(request, create)


@router.post("/users/{user_id}/active")
async def set_active(request: Request, user_id: str) -> Response:
    def toggle(actor: Actor, form: Any) -> Notice:
        active = text_of(form, "active") == "true"
        services(request).admin.users.set_active(actor, user_id, active)
        return Notice(USER_ACTIVE if active else USER_INACTIVE, {"user": user_id}, "success")

    return await _user_action(request, toggle)


@router.post("/users/{user_id}/role")
async def give_role(request: Request, user_id: str) -> Response:
    def give(actor: Actor, form: Any) -> Notice:
        role = text_of(form, "role")
        services(request).admin.users.update_user(actor, user_id, role=role)
        return Notice(ROLE_GIVEN, {"user": user_id, "role": role}, "success")

    return await _user_action(request, give)


@router.post("/users/{user_id}/password")
async def reset_password(request: Request, user_id: str) -> Response:
    def reset(actor: Actor, form: Any) -> Notice:
        services(request).admin.users.update_user(
            actor, user_id, password=text_of(form, "password")
        )
        return Notice(PASSWORD_SET, {"user": user_id}, "success")

    return await _user_action(request, reset)


@router.post("/users/{user_id}/tokens")
async def issue_token(request: Request, user_id: str) -> Response:
    def issue(actor: Actor, form: Any) -> Notice:
        name = text_of(form, "name").strip() or "console"
        issued = services(request).admin.users.create_token(actor, user_id, name)
        params = {"name": name, "user": user_id, "secret": issued.secret}
        return Notice(TOKEN_ISSUED, params, "warning")

    return await _user_action(request, issue)


@router.post("/users/{user_id}/tokens/{token_id}/revoke")
async def revoke_token(request: Request, user_id: str, token_id: IntId) -> Response:
    def revoke(actor: Actor, form: Any) -> Notice:
        services(request).admin.users.revoke_token(actor, token_id, of=user_id)
        return Notice(TOKEN_REVOKED, level="success")

    return await _user_action(request, revoke)


# --- queues -------------------------------------------------------------------------------------


async def _render_queues(
    request: Request, status: int = 200, notices: list[Notice] | None = None
) -> Response:
    def look(_actor: Actor) -> Any:
        found = services(request).admin
        return found.queues.queues(), [d.user for d in found.users.users(active=True)]

    actor, (queues, people) = await console_user(request, look, Right.QUEUE_MANAGE)
    return page(
        request, "queues.html", actor, status=status, notices=notices or [], queues=queues,
        people=people,
    )  # fmt: skip


@router.get("/queues")
async def queues_page(request: Request) -> Response:
    return await _render_queues(request)


async def _queue_action(request: Request, work: Any) -> Response:
    return await form_action(request, work, Right.QUEUE_MANAGE, _render_queues, QUEUES)


@router.post("/queues")
async def create_queue(request: Request) -> Response:
    def create(actor: Actor, form: Any) -> Notice:
        queue = services(request).admin.queues.create_queue(actor, name=text_of(form, "name"))
        return Notice(QUEUE_CREATED, {"queue": queue.name}, "success")

    return await _queue_action(request, create)


@router.post("/queues/{queue_id}/members")
async def set_members(request: Request, queue_id: IntId) -> Response:
    """Make the chosen users the queue's members (adding and removing the difference)."""

    def save(actor: Actor, form: Any) -> Notice:
        queues = services(request).admin.queues
        queue = queues.queue(queue_id)
        chosen = {v for v in form.getlist("members") if isinstance(v, str)}
        current = set(queue.member_user_ids)
        if chosen - current:
            queues.add_members(actor, queue_id, sorted(chosen - current))
        if current - chosen:
            queues.remove_members(actor, queue_id, sorted(current - chosen))
        return Notice(MEMBERS_CHANGED, {"queue": queue.name}, "success")

    return await _queue_action(request, save)
