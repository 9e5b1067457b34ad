"""Who is acting: the authenticated user (or the system) with their rights."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from callhopper.domain.errors import PermissionDenied
from callhopper.domain.rights import ALL_RIGHTS, Right


class TokenKind(StrEnum):
    """How a user's credentials were issued: a login session (cookie) or an API token."""

    SESSION = "session"
    API = "api"


@dataclass(frozen=True, slots=True)
class Actor:
    """A user as seen by a request, or the system itself (``id is None``)."""

    id: int | None
    user_id: str
    email: str
    display_name: str
    role: str
    rights: frozenset[Right]
    #: The language the user chose for the pages (``None``: not chosen; the browser's).
    language: str | None = None

    def can(self, right: Right) -> bool:
        return right in self.rights

    def require(self, right: Right) -> None:
        """Raise :class:`PermissionDenied` unless the actor holds ``right``."""
        if right not in self.rights:
            raise PermissionDenied(f"this needs the right {right.value!r}", right=right.value)


SYSTEM = Actor(
    id=None,
    user_id="system",
    email="",
    display_name="callhopper",
    role="system",
    rights=ALL_RIGHTS,
)
