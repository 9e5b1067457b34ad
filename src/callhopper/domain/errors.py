"""The one exception family of callhopper.

Every error carries a stable machine-readable ``code`` and a human message.
The HTTP status for each class is decided in one place
(:mod:`callhopper.api.errors`), not here: the domain knows nothing of HTTP.
"""

from __future__ import annotations

from typing import Any


class CallhopperError(Exception):
    """Base of every error callhopper raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class InvalidInput(CallhopperError):
    """The caller sent something that cannot be accepted (names the field and reason)."""

    code = "invalid_input"


class NotFound(CallhopperError):
    """The target does not exist, or the caller may not know that it exists."""

    code = "not_found"


class AlreadyExists(CallhopperError):
    """A unique name, email or key is already taken."""

    code = "already_exists"


class Conflict(CallhopperError):
    """The request is valid but the target's current state forbids it."""

    code = "conflict"


class NotAuthenticated(CallhopperError):
    """No credentials, or credentials that are wrong, expired or revoked."""

    code = "not_authenticated"


class TooManyAttempts(CallhopperError):
    """Too many failed attempts of the same kind lately; the detail ``retry_after_s`` says
    when to try again."""

    code = "too_many_attempts"

    @property
    def retry_after_s(self) -> int:
        return int(self.details.get("retry_after_s", 1))


class PermissionDenied(CallhopperError):
    """Authenticated, but the user's role lacks the right."""

    code = "permission_denied"


class Contention(CallhopperError):
    """The database rolled the transaction back to break a deadlock or a serialization
    conflict with a concurrent one. Nothing of it was committed, so running it again is
    safe; a service may do so once before letting the error through."""

    code = "contention"


class SchemaOutOfDate(CallhopperError):
    """The database schema is behind this version of callhopper."""

    code = "schema_out_of_date"
