"""The user ports: users and roles (:class:`UserStore`), and the stored secrets of login
sessions and API tokens (:class:`TokenStore`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from callhopper.domain.rights import Right
from callhopper.domain.users import (
    NewUser,
    RoleInfo,
    SignInFailures,
    TokenHolder,
    TokenInfo,
    TokenKind,
    UserInfo,
)


class UserStore(Protocol):
    """Users and roles. Emails are matched case-insensitively (by their
    :func:`~callhopper.domain.users.email_key`)."""

    def role(self, name: str) -> RoleInfo | None: ...

    def roles(self) -> list[RoleInfo]:
        """Every role, the built-in ones first, then by name."""
        ...

    def add_role(
        self, *, name: str, description: str, rights: frozenset[Right], now: datetime
    ) -> RoleInfo:
        """A custom role."""
        ...

    def change_role(
        self, role_id: int, *, description: str | None, rights: frozenset[Right] | None
    ) -> RoleInfo:
        """Set the fields given (``None`` keeps one as it is)."""
        ...

    def delete_role(self, role_id: int) -> None: ...

    def role_holders(self, role_id: int) -> int:
        """How many users have the role."""
        ...

    def user(self, user_id: str) -> UserInfo | None: ...

    def user_by_email(self, email: str) -> UserInfo | None: ...

    def user_id_taken(self, user_id: str) -> bool: ...

    def users(self, *, role: str | None = None, active: bool | None = None) -> list[UserInfo]:
        """Users in creation order, of a role and active (or not) when given."""
        ...

    def add_user(
        self,
        *,
        user_id: str,
        email: str,
        display_name: str,
        role_id: int,
        password_hash: str | None,
        now: datetime,
        language: str | None = None,
    ) -> UserInfo:
        """A new, active user."""
        ...

    def add_users(self, users: Sequence[NewUser], *, now: datetime) -> dict[str, int]:
        """New, active users, in bulk: the internal key of each, by user id."""
        ...

    def taken(
        self, user_ids: Sequence[str], email_keys: Sequence[str]
    ) -> tuple[set[str], set[str]]:
        """Which of these user ids, and of these emails (by their key), users have."""
        ...

    def change_user(
        self,
        id: int,
        *,
        email: str | None = None,
        display_name: str | None = None,
        role_id: int | None = None,
        password_hash: str | None = None,
        language: str | None = None,
    ) -> UserInfo:
        """Set the fields given (``None`` keeps one as it is)."""
        ...

    def set_active(self, id: int, active: bool, *, now: datetime) -> UserInfo:
        """Activate, or deactivate as of ``now``."""
        ...

    def password_hash(self, id: int) -> str | None:
        """The user's stored password hash (``None``: they have no password)."""
        ...

    def end_agent_work(self, id: int, *, now: datetime) -> int:
        """A deactivated agent leaves every campaign: logged out, every lease they hold
        lapses now, and a push they had not accepted goes back. Returns how many records
        they held."""
        ...


class TokenStore(Protocol):
    """Login sessions and API tokens, found by the hash of their secret."""

    def add(
        self,
        *,
        user_id: int,
        kind: TokenKind,
        name: str,
        token_hash: str,
        prefix: str,
        now: datetime,
        expires_at: datetime | None,
    ) -> TokenInfo: ...

    def token(self, token_id: int) -> TokenInfo | None: ...

    def tokens(self, user_id: int, kind: TokenKind) -> list[TokenInfo]:
        """The user's tokens of a kind (revoked ones too), in creation order."""
        ...

    def revoke(self, token_id: int, *, now: datetime) -> None: ...

    def revoke_all(self, user_id: int, *, now: datetime) -> None:
        """Revoke every token and session of the user not revoked yet."""
        ...

    def revoke_secret(self, token_hash: str, *, now: datetime) -> None:
        """Revoke the token of this hash, if there is one and it is not revoked yet."""
        ...

    def holder(self, token_hash: str) -> TokenHolder | None:
        """What the secret of this hash stands for (one statement: every request runs it)."""
        ...

    def touch(self, token_id: int, *, now: datetime) -> None:
        """Note that the token was used at ``now``."""
        ...

    def sign_in_failures(self, email_key: str, address: str, *, since: datetime) -> SignInFailures:
        """The failed sign-ins since ``since`` for this account and from this address, and
        the oldest of each (which decides when the next attempt is allowed)."""
        ...

    def add_sign_in_failure(self, email_key: str, address: str, *, now: datetime) -> None:
        """Note a failed sign-in."""
        ...

    def forget_sign_in_failures(self, *, email_key: str | None, before: datetime) -> None:
        """Forget the failures of this account (all of them), and everyone's before
        ``before`` (they no longer count)."""
        ...
