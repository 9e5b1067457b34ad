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
from callhopper.domain.errors import NotAuthenticated, TooManyAttempts
from callhopper.domain.users import (
    SESSION_PREFIX,
    TOKEN_PREFIX_CHARS,
    TokenHolder,
    TokenKind,
    email_key,
    sign_in_wait_s,
)
from callhopper.ports.clock import Clock
from callhopper.ports.passwords import PasswordHasher
from callhopper.ports.transactions import UnitOfWork

#: ``last_used_at`` is refreshed at most this often, so that most requests only read.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)
#: The name of every login session.
SESSION_NAME = "login"


@dataclass(frozen=True, slots=True)
class SignInLimit:
    """At most ``failures`` failed sign-ins within ``window``, per account and per client
    address (``CALLHOPPER_SIGN_IN_MAX_FAILURES``, ``CALLHOPPER_SIGN_IN_WINDOW_S``)."""

    failures: int
    window: timedelta


DEFAULT_SIGN_IN_LIMIT = SignInLimit(failures=10, window=timedelta(minutes=5))


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
        self,
        uow: UnitOfWork,
        clock: Clock,
        passwords: PasswordHasher,
        *,
        session_ttl: timedelta,
        sign_in_limit: SignInLimit = DEFAULT_SIGN_IN_LIMIT,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.passwords = passwords
        self.session_ttl = session_ttl
        self.sign_in_limit = sign_in_limit

    def sign_in(self, email: str, password: str, *, address: str = "unknown") -> SignedIn:
        """Check a password and open a login session; :class:`NotAuthenticated` (the same
        for every reason, and taking as long) when the email is unknown, the password wrong
        or the user deactivated. After too many failures lately for the account or from
        ``address`` (the client's), :class:`TooManyAttempts` instead, without checking the
        password: see :func:`~callhopper.domain.users.sign_in_wait_s`."""
        now = self.clock.now()
        key = email_key(email)
        limit = self.sign_in_limit
        with self.uow.write() as tx:
            failures = tx.tokens.sign_in_failures(key, address, since=now - limit.window)
            wait_s = sign_in_wait_s(failures, limit=limit.failures, window=limit.window, now=now)
            if wait_s is not None:
                raise TooManyAttempts(
                    f"too many failed sign-ins for this account or from this address: "
                    f"try again in {wait_s} seconds",
                    retry_after_s=wait_s,
                )
            user = tx.users.user_by_email(email)
            stored = tx.users.password_hash(user.id) if user is not None else None
            matches = self.passwords.verify(stored, password)
            if user is not None and matches and user.active:
                tx.tokens.forget_sign_in_failures(email_key=key, before=now - limit.window)
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
        # Its own transaction, after the one that read: a refusal raised inside it would
        # roll the count back.
        with self.uow.write() as tx:
            tx.tokens.add_sign_in_failure(key, address, now=now)
            tx.tokens.forget_sign_in_failures(email_key=None, before=now - limit.window)
        raise NotAuthenticated("wrong email or password, or the account is deactivated")

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
