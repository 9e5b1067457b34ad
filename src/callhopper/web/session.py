"""Signing in and out of the pages, and who a page request comes from.

The pages use the same login sessions as the API (the ``callhopper_session`` cookie: HttpOnly,
SameSite=Lax, ``Secure`` when ``CALLHOPPER_COOKIE_SECURE`` is set), through the same
authentication service (:class:`~callhopper.core.auth.AuthService`) as the API's ``/auth``
endpoints and its request authentication. This module is the only place the pages reach it.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.responses import Response

from callhopper.api.deps import SESSION_COOKIE, client_address
from callhopper.core.auth import AuthService, SignedIn
from callhopper.domain.actors import Actor


def _auth(connection: HTTPConnection) -> AuthService:
    service: AuthService = connection.app.state.services.admin.auth
    return service


def _secure(connection: HTTPConnection) -> bool:
    return bool(connection.app.state.settings.cookie_secure)


def sign_in(connection: HTTPConnection, email: str, password: str) -> SignedIn:
    """Check the password and open a login session. Raises ``NotAuthenticated`` (the same
    for an unknown email, a wrong password and a deactivated user), or ``TooManyAttempts``
    after too many failures lately. Blocks: call it in a worker thread."""
    return _auth(connection).sign_in(email, password, address=client_address(connection))


def sign_out(connection: HTTPConnection, secret: str) -> None:
    """End the login session of ``secret`` (nothing happens when there is none). Blocks."""
    _auth(connection).sign_out(secret)


def authenticate(connection: HTTPConnection, secret: str) -> Actor:
    """The user ``secret`` stands for; ``NotAuthenticated`` when it is wrong, expired or
    revoked, or its user is deactivated. Blocks."""
    return _auth(connection).authenticate(secret)


def secret_of(connection: HTTPConnection) -> str | None:
    """The session secret the browser sent, if any."""
    return connection.cookies.get(SESSION_COOKIE) or None


def set_cookie(connection: HTTPConnection, response: Response, signed_in: SignedIn) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.secret,
        max_age=int(_auth(connection).session_ttl.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(connection),
    )


def clear_cookie(connection: HTTPConnection, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=_secure(connection)
    )
