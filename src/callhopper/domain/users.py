"""Users, roles and credentials: the values and the rules that need no storage.

A user signs in with an email and a password (a *login session*) or calls the API with an
*API token*; both are opaque secrets of which only a hash is stored. A role is a named set of
rights: the built-in roles take theirs from code, a custom role keeps its own.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from callhopper.domain.actors import Actor
from callhopper.domain.errors import InvalidInput, PermissionDenied
from callhopper.domain.rights import BUILTIN_ROLES, Right, parse_rights

API_TOKEN_PREFIX = "chp_"
SESSION_PREFIX = "chs_"
MIN_PASSWORD_LENGTH = 8
#: How many characters of a secret are kept in clear, so that a user can tell tokens apart.
TOKEN_PREFIX_CHARS = 10
#: The languages the pages speak (a user's preference is one of these); English is the source.
LANGUAGES: tuple[str, ...] = ("en", "ja")

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: No ``@``: an owner value with one is an email, one without is a user id, and a user id
#: that reads like another user's email could capture that user's records.
_USER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class TokenKind(StrEnum):
    """What a stored secret opens: a login session (the cookie) or an API token."""

    SESSION = "session"
    API = "api"


@dataclass(frozen=True, slots=True)
class NewUser:
    """A user to create in bulk (a row of a users file, checked)."""

    user_id: str
    email: str
    display_name: str
    role_id: int
    password_hash: str | None


@dataclass(frozen=True, slots=True)
class RoleInfo:
    """A role with its rights (a built-in role's from code, a custom role's as stored)."""

    id: int
    name: str
    description: str
    builtin: bool
    rights: frozenset[Right]

    def view(self) -> dict[str, Any]:
        """The role as the API and the audit log show it."""
        return {
            "name": self.name,
            "builtin": self.builtin,
            "description": self.description,
            "rights": sorted(r.value for r in self.rights),
        }


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user with their role's name and rights (``id`` is the internal key, ``user_id`` the
    stable name others know them by)."""

    id: int
    user_id: str
    email: str
    display_name: str
    role: str
    rights: frozenset[Right]
    active: bool
    created_at: datetime
    deactivated_at: datetime | None
    #: The pages' language the user chose (``None``: the browser's).
    language: str | None = None

    @property
    def actor(self) -> Actor:
        """The user acting (as a request or a job sees them)."""
        return Actor(
            id=self.id,
            user_id=self.user_id,
            email=self.email,
            display_name=self.display_name,
            role=self.role,
            rights=self.rights,
            language=self.language,
        )

    def view(self) -> dict[str, Any]:
        """The user as the audit log shows them."""
        return {
            "user_id": self.user_id,
            "email": self.email,
            "display_name": self.display_name,
            "role": self.role,
            "active": self.active,
            "language": self.language,
        }


@dataclass(frozen=True, slots=True)
class UserDetails:
    """A user with the skills they hold and the queues they belong to (by id)."""

    user: UserInfo
    skill_ids: tuple[int, ...]
    queue_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A stored login session or API token (never its secret)."""

    id: int
    user_id: int
    kind: TokenKind
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def view(self) -> dict[str, Any]:
        """The token as the audit log shows it."""
        return {"token_id": self.id, "name": self.name, "prefix": self.prefix}


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just created, with its secret: shown once, never stored."""

    token: TokenInfo
    secret: str


@dataclass(frozen=True, slots=True)
class TokenHolder:
    """What a stored secret stands for, valid or not: the token's state and its user."""

    token_id: int
    revoked_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None
    user_active: bool
    actor: Actor

    def valid_at(self, now: datetime) -> bool:
        """Not revoked, not expired, and its user is active."""
        if self.revoked_at is not None or not self.user_active:
            return False
        return self.expires_at is None or self.expires_at > now


def rights_of(name: str, builtin: bool, rights: list[str]) -> frozenset[Right]:
    """A role's rights: a built-in role's from code, a custom role's as stored."""
    return BUILTIN_ROLES[name] if builtin else parse_rights(rights)


def require_within(actor: Actor, rights: frozenset[Right], what: str) -> None:
    """Nobody hands out more than they hold: refuse (403) when ``rights`` (of a role being
    granted or written, or of a user being managed) include one the actor lacks. Without
    this, holding ``user.manage`` would be holding every right: promote yourself, edit a
    role you hold, reset an admin's password or mint yourself an admin's token."""
    missing = sorted(r.value for r in rights - actor.rights)
    if missing:
        raise PermissionDenied(
            f"{what} has rights you do not hold: {', '.join(missing)}", right=missing[0]
        )


def require_manageable(actor: Actor, user: UserInfo) -> None:
    """The actor may manage ``user`` (edit, (de)activate, tokens) only if every right of the
    user's role is also the actor's."""
    require_within(actor, user.rights, f"user {user.user_id!r} (role {user.role!r})")


def email_key(email: str) -> str:
    """The case-insensitive form of an email, used for uniqueness and owner matching."""
    return email.strip().lower()


def check_email(email: str) -> str:
    """The email, stripped; :class:`InvalidInput` unless it looks like an address."""
    email = email.strip()
    if not _EMAIL_RE.match(email):
        raise InvalidInput(f"{email!r} is not an email address", field="email")
    return email


def check_language(language: str) -> str:
    """A pages' language a user may choose; :class:`InvalidInput` names the ones there are."""
    if language not in LANGUAGES:
        raise InvalidInput(
            f"{language!r} is not a language of the pages (one of {', '.join(LANGUAGES)})",
            field="language",
        )
    return language


def check_user_id(user_id: str) -> str:
    """A user id given by an admin: letters, digits, ``_ . -``, at most 64, no ``@``."""
    if not _USER_ID_RE.match(user_id):
        raise InvalidInput(
            f"{user_id!r} is not a valid user_id (letters, digits, _ . -; at most 64; "
            "no @, which would read as an email)",
            field="user_id",
        )
    return user_id


def check_password(password: str) -> str:
    """A new password, long enough."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    return password


def check_role_name(name: str) -> str:
    """A new role's name, stripped and not empty."""
    name = name.strip()
    if not name:
        raise InvalidInput("the role name is empty", field="name")
    return name


def new_user_id() -> str:
    """A user id for a user created without one."""
    return "u_" + secrets.token_hex(6)


@dataclass(frozen=True, slots=True)
class SignInFailures:
    """Failed sign-ins lately, for one account and from one client address."""

    account: int
    account_oldest: datetime | None
    address: int
    address_oldest: datetime | None


def sign_in_wait_s(
    failures: SignInFailures, *, limit: int, window: timedelta, now: datetime
) -> int | None:
    """How many seconds to wait before the next sign-in is even checked, or ``None`` when
    it may be checked now: after ``limit`` failures within ``window`` for the account, or
    from the address, the next attempt waits until the oldest of them leaves the window.
    Counting the address too keeps one client from guessing many accounts' passwords;
    counting the account keeps many clients from guessing one."""
    waits = [
        oldest + window - now
        for count, oldest in (
            (failures.account, failures.account_oldest),
            (failures.address, failures.address_oldest),
        )
        if count >= limit and oldest is not None
    ]
    if not waits:
        return None
    return max(1, int(max(waits).total_seconds() + 0.999))
