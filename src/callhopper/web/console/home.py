"""The console's start page: where supervisors and administrators land after sign-in."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from callhopper.domain.rights import Right
from callhopper.web.console.common import CONSOLE_PATH, ConsoleRoute, console_user, page

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get(CONSOLE_PATH)
async def home(request: Request) -> Response:
    actor, _ = await console_user(request, lambda _actor: None)
    return page(request, "home.html", actor, works=actor.can(Right.AGENT_WORK))
