"""Signing in and out, and who a request's secret stands for: :class:`AuthService`.

A person signs in with their email and password and gets a *login session* (a secret the
browser keeps in a cookie); an integration sends an API token. Both are checked the same
way, on every request, by :meth:`AuthService.authenticate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from callhopper.domain.actors import Actor
from callhopper.domain.credentials import new_secret, secret_hash
from callhopper.domain.errors import NotAuthenticated
from callhopper.domain.users import (
    SESSION_PREFIX,
    TOKEN_PREFIX_CHARS,
    TokenHolder,
    TokenKind,
)
from callhopper.ports.clock import Clock
from callhopper.ports.passwords import PasswordHasher
from callhopper.ports.transactions import UnitOfWork

#: ``last_used_at`` is refreshed at most this often, so that most requests only read.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)
#: The name of every login session.
SESSION_NAME = "login"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A login session just opened: who, and the secret for the cookie (until
    ``expires_at``)."""

    actor: Actor
    secret: str
    expires_at: datetime


class AuthService:
    """Login sessions, and the check of every request's credentials."""

    def __init__(
        self, uow: UnitOfWork, clock: Clock, passwords: PasswordHasher, *, session_ttl: timedelta
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.passwords = passwords
        self.session_ttl = session_ttl

    def sign_in(self, email: str, password: str) -> SignedIn:
        """Check a password and open a login session; :class:`NotAuthenticated` (the same
        for every reason, and taking as long) when the email is unknown, the password wrong
        or the user deactivated."""
        now = self.clock.now()
        with self.uow.write() as tx:
            user = tx.users.user_by_email(email)
            stored = tx.users.password_hash(user.id) if user is not None else None
            matches = self.passwords.verify(stored, password)
            if user is None or not matches or not user.active:
                raise NotAuthenticated("wrong email or password, or the account is deactivated")
            secret = new_secret(SESSION_PREFIX)
            expires_at = now + self.session_ttl
            tx.tokens.add(
                user_id=user.id,
                kind=TokenKind.SESSION,
                name=SESSION_NAME,
                token_hash=secret_hash(secret),
                prefix=secret[:TOKEN_PREFIX_CHARS],
                now=now,
                expires_at=expires_at,
            )
        return SignedIn(user.actor, secret, expires_at)

    def sign_out(self, secret: str) -> None:
        """End the login session of ``secret`` (nothing happens when there is none)."""
        now = self.clock.now()
        with self.uow.write() as tx:
            tx.tokens.revoke_secret(secret_hash(secret), now=now)

    def authenticate(self, secret: str) -> Actor:
        """The user a session or API secret stands for; :class:`NotAuthenticated` when it is
        wrong, expired or revoked, or its user is deactivated. Notes when it was used (at
        most every :data:`TOKEN_TOUCH_INTERVAL`)."""
        now = self.clock.now()
        found = self._holder(secret, now)
        if found is None:
            raise NotAuthenticated("the token or session is invalid, expired or revoked")
        if found.last_used_at is None or now - found.last_used_at > TOKEN_TOUCH_INTERVAL:
            with self.uow.write() as tx:
                tx.tokens.touch(found.token_id, now=now)
        return found.actor

    def identify(self, secret: str) -> Actor | None:
        """Who a secret stands for, or ``None`` when it is not valid now (one read)."""
        found = self._holder(secret, self.clock.now())
        return found.actor if found is not None else None

    def _holder(self, secret: str, now: datetime) -> TokenHolder | None:
        with self.uow.lookup() as tx:
            found = tx.tokens.holder(secret_hash(secret))
        return found if found is not None and found.valid_at(now) else None
