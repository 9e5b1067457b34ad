"""What every page route shares: the visitor's language and time zone, the signed-in user,
the forms' cross-site request forgery check, rendering, and errors shown as pages.

Page routes are ``async``: each reads its form on the event loop, then makes one trip to a
worker thread that authenticates the user and calls the services (see :func:`as_user`).
A person never sees JSON or a traceback from a page: :class:`PageRoute` turns whatever a
page raises into a page, or into a notice when htmx made the request.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from callhopper.api.errors import status_of
from callhopper.domain.actors import Actor
from callhopper.domain.errors import CallhopperError, NotAuthenticated
from callhopper.domain.rights import Right
from callhopper.web import csrf, session
from callhopper.web.i18n import LANG_COOKIE, LANGUAGES, negotiate
from callhopper.web.messages import (
    FLASH_COOKIE,
    FORM_EXPIRED,
    NOT_FOUND,
    Notice,
    dump_flash,
    error_notice,
    load_flash,
)
from callhopper.web.templating import context, templates

_T = TypeVar("_T")

#: The visitor's time zone (an IANA name the page's script reads from the browser): times
#: are shown in it. Not a secret.
TZ_COOKIE = "callhopper_tz"
DEFAULT_ZONE = "UTC"
#: A random value that stands in for the session secret in the tokens of forms shown before
#: sign-in (the sign-in form itself, the language switch): HttpOnly, so another site can
#: neither read it nor compute the token.
NONCE_COOKIE = "callhopper_csrf"
SIGN_IN_PATH = "/signin"
WORKSPACE_PATH = "/workspace"
#: Supervisors and administrators start in the console.
START_PATH = "/console"


class SignInRequired(Exception):
    """The request needs a signed-in user; ``expired``: the browser sent a session that is
    no longer valid (expired, ended, or its user deactivated)."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__("sign in required")
        self.expired = expired


class FormRefused(Exception):
    """A form came without this session's CSRF token."""


def language(request: Request) -> str:
    """The page's language: the signed-in user's preference (noted on the request by
    :func:`as_user`), else the visitor's choice (cookie), else the browser's languages."""
    preference = getattr(request.state, "language_preference", None)
    choice = request.cookies.get(LANG_COOKIE)
    return negotiate(preference, choice, request.headers.get("accept-language"))


def zone(request: Request) -> str:
    """The visitor's time zone, from the cookie the page's script sets (UTC until then)."""
    name = request.cookies.get(TZ_COOKIE, "")
    if not name or len(name) > 64:
        return DEFAULT_ZONE
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return DEFAULT_ZONE
    return name


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def home_of(actor: Actor) -> str:
    """Where a user starts: agents in their workspace, everybody else (supervisors, admins)
    in the console, which links to the workspace too when they may work campaigns."""
    return WORKSPACE_PATH if actor.rights == frozenset({Right.AGENT_WORK}) else START_PATH


# --- the signed-in user -------------------------------------------------------------------------


async def as_user(request: Request, work: Callable[[Actor], _T]) -> tuple[Actor, _T]:
    """Authenticate the session of ``request`` and run ``work`` as its user, both in one
    worker thread. Raises :class:`SignInRequired` when there is no valid session."""
    secret = session.secret_of(request)
    if secret is None:
        raise SignInRequired(expired=False)

    def run() -> tuple[Actor, _T]:
        try:
            actor = session.authenticate(request, secret)
        except NotAuthenticated:
            raise SignInRequired(expired=True) from None
        request.state.language_preference = actor.language
        return actor, work(actor)

    return await run_in_threadpool(run)


async def checked_form(request: Request, *, before_sign_in: bool = False) -> FormData:
    """The posted form, once its CSRF token (the form field, or htmx's header) matches the
    session's (``before_sign_in``: the pre-session nonce's, or the session's)."""
    form = await request.form()
    sent = form.get(csrf.FORM_FIELD) or request.headers.get(csrf.HEADER)
    token = sent if isinstance(sent, str) else None
    secret = session.secret_of(request)
    if secret is None and not before_sign_in:
        raise SignInRequired(expired=False)
    candidates = [secret]
    if before_sign_in:
        candidates.append(request.cookies.get(NONCE_COOKIE))
    if not any(s and csrf.is_valid(s, token or "") for s in candidates):
        raise FormRefused
    return form


def text_of(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


# --- rendering ----------------------------------------------------------------------------------


def render(
    request: Request,
    name: str,
    *,
    actor: Actor | None = None,
    status: int = 200,
    notices: Sequence[Notice] = (),
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    """Render the template ``name`` in the visitor's language, with the notices carried
    from the previous page (the flash cookie) before ``notices``."""
    carried = load_flash(request.cookies.get(FLASH_COOKIE))
    nonce = None
    if actor is not None:
        secret = session.secret_of(request)
        assert secret is not None
    else:
        nonce = request.cookies.get(NONCE_COOKIE) or secrets.token_urlsafe(24)
        secret = nonce
    lang = language(request)
    response = templates.TemplateResponse(
        request,
        name,
        context(
            lang,
            actor=actor,
            zone=zone(request),
            csrf_token=csrf.token_for(secret),
            csrf_field=csrf.FORM_FIELD,
            csrf_header=csrf.HEADER,
            languages=LANGUAGES,
            here=request.url.path,
            notices=[*carried, *notices],
            **values,
        ),
        status_code=status,
        headers=headers,
    )
    if carried:
        response.delete_cookie(FLASH_COOKIE)
    if nonce is not None and request.cookies.get(NONCE_COOKIE) != nonce:
        secure = request.app.state.settings.cookie_secure
        response.set_cookie(NONCE_COOKIE, nonce, httponly=True, samesite="lax", secure=secure)
    return response


def redirect(url: str, notices: Sequence[Notice] = ()) -> RedirectResponse:
    """See other (after a form), carrying ``notices`` to the next page."""
    response = RedirectResponse(url, status_code=303)
    if notices:
        response.set_cookie(FLASH_COOKIE, dump_flash(list(notices)), samesite="lax", httponly=True)
    return response


def sign_in_redirect(request: Request, *, expired: bool) -> Response:
    """To the sign-in page (htmx follows ``HX-Redirect``), coming back here afterwards."""
    target = SIGN_IN_PATH + ("?expired=1" if expired else "")
    if is_htmx(request):
        response: Response = Response(status_code=401, headers={"HX-Redirect": target})
    else:
        back = request.url.path if request.method == "GET" else WORKSPACE_PATH
        separator = "&" if expired else "?"
        response = RedirectResponse(f"{target}{separator}next={quote(back)}", status_code=303)
    if expired:
        session.clear_cookie(request, response)
    return response


def problem(request: Request, status: int, notice: Notice) -> Response:
    """An error as a page; for htmx, as a notice swapped into the page's messages."""
    if is_htmx(request):
        return render(
            request,
            "_messages.html",
            status=status,
            notices=[notice],
            oob=True,
            headers={"HX-Reswap": "none"},
        )
    return render(request, "error.html", status=status, notices=[notice])


class PageRoute(APIRoute):
    """A page's route: every error becomes a page (or an htmx notice), never JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handle(request)
            except SignInRequired as exc:
                return sign_in_redirect(request, expired=exc.expired)
            except FormRefused:
                return problem(request, 403, Notice(FORM_EXPIRED, level="error"))
            except CallhopperError as exc:
                return problem(request, status_of(exc), error_notice(exc))
            except RequestValidationError:  # an id out of range in the path: nothing has it
                return problem(request, 404, Notice(NOT_FOUND, level="error"))

        return page
