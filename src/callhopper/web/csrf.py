"""Cross-site request forgery protection for the pages' forms.

Every form (and every htmx request) that changes state carries a token derived from the
visitor's session secret with HMAC-SHA-256. A page of another site cannot read the session
cookie (HttpOnly) nor a page of ours, so it cannot produce the token; the token changes with
each sign-in and needs no server-side key or storage, so it works the same across processes.
"""

from __future__ import annotations

import hashlib
import hmac

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
