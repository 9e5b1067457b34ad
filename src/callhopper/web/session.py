"""Signing in and out of the pages, and who a page request comes from.

The pages use the same login sessions as the API (the ``callhopper_session`` cookie: HttpOnly,
SameSite=Lax, ``Secure`` when ``CALLHOPPER_COOKIE_SECURE`` is set). This module is the only
place the pages reach the authentication code: :func:`sign_in`, :func:`sign_out` and
:func:`authenticate` make the same calls as the API's ``/auth`` endpoints and its request
authentication, and have the shape of an authentication service (sign in → a secret for the
cookie, sign out, who a secret stands for).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.requests import HTTPConnection
from starlette.responses import Response

from callhopper.api.deps import SESSION_COOKIE, Credentials
from callhopper.domain.actors import Actor
from callhopper.ports import Clock
from callhopper.settings import Settings
from callhopper.store import users
from callhopper.store.db import Database


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A login session just opened: who, and the secret for the cookie (until
    ``expires_at``)."""

    actor: Actor
    secret: str
    expires_at: datetime


def _parts(connection: HTTPConnection) -> tuple[Database, Clock, Settings]:
    state = connection.app.state
    return state.db, state.clock, state.settings


def session_ttl(connection: HTTPConnection) -> timedelta:
    return timedelta(hours=_parts(connection)[2].session_ttl_hours)


def sign_in(connection: HTTPConnection, email: str, password: str) -> SignedIn:
    """Check the password and open a login session. Raises ``NotAuthenticated`` (the same
    for an unknown email, a wrong password and a deactivated user). Blocks: call it in a
    worker thread."""
    db, clock, _ = _parts(connection)
    now = clock.now()
    ttl = session_ttl(connection)
    with db.write() as session:
        secret = users.login(session, email, password, now=now, ttl=ttl)
        user = users.get_user_by_email(session, email)
        assert user is not None
        actor = users.actor_of(session, user)
    return SignedIn(actor, secret, now + ttl)


def sign_out(connection: HTTPConnection, secret: str) -> None:
    """End the login session of ``secret`` (nothing happens when there is none). Blocks."""
    db, clock, _ = _parts(connection)
    with db.write() as session:
        users.end_session(session, secret, now=clock.now())


def authenticate(connection: HTTPConnection, secret: str) -> Actor:
    """The user ``secret`` stands for; ``NotAuthenticated`` when it is wrong, expired or
    revoked, or its user is deactivated. Blocks."""
    db, clock, _ = _parts(connection)
    return Credentials(secret, db, clock).actor()


def secret_of(connection: HTTPConnection) -> str | None:
    """The session secret the browser sent, if any."""
    return connection.cookies.get(SESSION_COOKIE) or None


def set_cookie(connection: HTTPConnection, response: Response, signed_in: SignedIn) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.secret,
        max_age=int(session_ttl(connection).total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_parts(connection)[2].cookie_secure,
    )


def clear_cookie(connection: HTTPConnection, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=_parts(connection)[2].cookie_secure
    )
