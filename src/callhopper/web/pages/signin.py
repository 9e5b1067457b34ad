"""Sign-in, sign-out, the start page and the language switch."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from callhopper.core.users import UserService
from callhopper.domain.errors import NotAuthenticated, TooManyAttempts
from callhopper.web import session
from callhopper.web.i18n import LANG_COOKIE, LANG_COOKIE_MAX_AGE_S, LANGUAGES
from callhopper.web.messages import (
    MISSING_CREDENTIALS,
    SESSION_EXPIRED,
    SIGN_IN_FAILED,
    SIGN_IN_THROTTLED,
    SIGNED_OUT,
    Notice,
)
from callhopper.web.pages.common import (
    SIGN_IN_PATH,
    PageRoute,
    SignInRequired,
    as_user,
    checked_form,
    home_of,
    redirect,
    render,
    text_of,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def local_path(target: str | None, default: str) -> str:
    """``target`` when it is a path of this site (never another site's address)."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target != SIGN_IN_PATH
    ):
        return target
    return default


@router.get("/")
async def home(request: Request) -> Response:
    """Signed in: your start (the workspace for agents); else the sign-in form."""
    actor, _ = await as_user(request, lambda _actor: None)
    return RedirectResponse(home_of(actor), status_code=303)


@router.get(SIGN_IN_PATH)
async def sign_in_form(request: Request) -> Response:
    expired = request.query_params.get("expired") == "1"
    if session.secret_of(request) is not None and not expired:
        try:
            actor, _ = await as_user(request, lambda _actor: None)
        except SignInRequired:
            expired = True
        else:
            return RedirectResponse(home_of(actor), status_code=303)
    notices = [Notice(SESSION_EXPIRED, level="warning")] if expired else []
    response = render(
        request,
        "signin.html",
        notices=notices,
        email="",
        next=local_path(request.query_params.get("next"), ""),
    )
    if expired:
        session.clear_cookie(request, response)
    return response


@router.post(SIGN_IN_PATH)
async def sign_in(request: Request) -> Response:
    form = await checked_form(request, before_sign_in=True)
    email, password = text_of(form, "email").strip(), text_of(form, "password")
    target = text_of(form, "next")
    if not email or not password:
        return _refused(request, email, target, MISSING_CREDENTIALS, 422)
    try:
        signed_in = await run_in_threadpool(session.sign_in, request, email, password)
    except NotAuthenticated:
        return _refused(request, email, target, SIGN_IN_FAILED, 401)
    except TooManyAttempts as throttled:
        refused = _refused(request, email, target, SIGN_IN_THROTTLED, 429)
        refused.headers["Retry-After"] = str(throttled.retry_after_s)
        return refused
    response = redirect(local_path(target, home_of(signed_in.actor)))
    session.set_cookie(request, response, signed_in)
    return response


def _refused(request: Request, email: str, target: str, text: str, status: int) -> Response:
    return render(
        request,
        "signin.html",
        status=status,
        notices=[Notice(text, level="error")],
        email=email,
        next=local_path(target, ""),
    )


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    await checked_form(request)
    secret = session.secret_of(request)
    if secret is not None:
        await run_in_threadpool(session.sign_out, request, secret)
    response = redirect(SIGN_IN_PATH, [Notice(SIGNED_OUT, level="success")])
    session.clear_cookie(request, response)
    return response


@router.post("/language")
async def choose_language(request: Request) -> Response:
    """Switch the pages' language: kept in a cookie for a year, and with the user when one
    is signed in (so that it follows them to every browser)."""
    form = await checked_form(request, before_sign_in=True)
    chosen = text_of(form, "lang")
    response = redirect(local_path(text_of(form, "next"), "/"))
    if chosen in LANGUAGES:
        if session.secret_of(request) is not None:
            users: UserService = request.app.state.services.admin.users
            try:
                await as_user(request, lambda actor: users.set_own_language(actor, chosen))
            except SignInRequired:
                pass  # an ended session: the choice still holds in this browser

        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=LANG_COOKIE_MAX_AGE_S,
            samesite="lax",
            httponly=True,
            secure=request.app.state.settings.cookie_secure,
        )
    return response
