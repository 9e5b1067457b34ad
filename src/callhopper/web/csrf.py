"""Cross-site request forgery protection: the pages' form tokens, and the check of every
cookie-authenticated state-changing request's origin (API and pages).

Every form (and every htmx request) that changes state carries a token derived from the
visitor's session secret with HMAC-SHA-256. A page of another site cannot read the session
cookie (HttpOnly) nor a page of ours, so it cannot produce the token; the token changes with
each sign-in and needs no server-side key or storage, so it works the same across processes.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

#: The form field and the request header (htmx sends it) that carry the token.
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
_PURPOSE = b"callhopper csrf v1"


def token_for(session_secret: str) -> str:
    """The token of the forms of this session."""
    return hmac.new(session_secret.encode(), _PURPOSE, hashlib.sha256).hexdigest()


def is_valid(session_secret: str, token: str | None) -> bool:
    """Whether ``token`` is this session's token (compared in constant time)."""
    return token is not None and hmac.compare_digest(token_for(session_secret), token)


#: Methods that change nothing, which a page of another site may send.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def foreign_origin(*, origin: str | None, fetch_site: str | None, host: str | None) -> str | None:
    """Why a state-changing request authenticated by the session cookie comes from a page of
    another site, or ``None`` when it does not: its ``Origin`` names another host or port
    than the request's ``Host``, or the browser says ``Sec-Fetch-Site: cross-site``. A
    browser sends the cookie with such a request (and ``SameSite=Lax`` lets some through),
    but always says where the page was; requests without either header come from programs,
    which cannot use a visitor's cookie."""
    if fetch_site == "cross-site":
        return "the browser says the request comes from another site (Sec-Fetch-Site)"
    if origin is None:
        return None
    # Host and port only: behind a proxy that ends TLS the server sees http while the page
    # was https, and the Host header is the proxy's public name.
    _, _, netloc = origin.partition("://")
    if host is None or netloc.lower() != host.lower():
        return f"its Origin {origin[:200]!r} is not this server's"
    return None


class CrossSiteGuard:
    """Refuses (403) a state-changing request that carries the session cookie and no bearer
    token when :func:`foreign_origin` says it comes from another site: the API and the
    pages alike, before any endpoint runs, and the agent channel's WebSocket handshake (a
    WebSocket is not bound by the same-origin policy). Requests with a token are not
    affected (a page of another site cannot attach one)."""

    def __init__(self, app: ASGIApp, *, cookie: str) -> None:
        self.app = app
        self.cookie = cookie.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            reason = self._refusal(scope)
            if reason is not None:
                response = JSONResponse(
                    {
                        "error": {
                            "code": "cross_site_request",
                            "message": f"refused: a request made with the session cookie "
                            f"from a page of another site ({reason})",
                        }
                    },
                    status_code=403,
                )
                await response(scope, receive, send)
                return
        if scope["type"] == "websocket" and b"token=" not in scope.get("query_string", b""):
            # A page of another site opening the agent channel with the visitor's cookie
            # would read their records: refused at the handshake (HTTP 403).
            if self._refusal(scope) is not None:
                await receive()  # the client's websocket.connect
                await send({"type": "websocket.close", "code": 4403})
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> str | None:
        headers = dict(scope["headers"])
        if b"authorization" in headers or self.cookie not in headers.get(b"cookie", b""):
            return None
        origin = headers.get(b"origin")
        fetch_site = headers.get(b"sec-fetch-site")
        host = headers.get(b"host")
        return foreign_origin(
            origin=origin.decode("latin-1") if origin is not None else None,
            fetch_site=fetch_site.decode("latin-1") if fetch_site is not None else None,
            host=host.decode("latin-1") if host is not None else None,
        )
