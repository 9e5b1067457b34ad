"""Users, roles and credentials in SQL: :class:`SqlUserStore` and :class:`SqlTokenStore`
(:mod:`callhopper.ports.users`), and the lookups other stores make of a user."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from callhopper.domain.actors import Actor
from callhopper.domain.errors import NotFound
from callhopper.domain.rights import Right
from callhopper.domain.users import (
    NewUser,
    RoleInfo,
    SignInFailures,
    TokenHolder,
    TokenInfo,
    TokenKind,
    UserInfo,
    email_key,
    rights_of,
)
from callhopper.store.dispensing import end_agent_work
from callhopper.store.models import AuthToken, Role, SignInFailure, User, table_of


def get_user(session: Session, user_id: str) -> User:
    """The user named ``user_id``, or :class:`NotFound`."""
    user = session.scalar(select(User).where(User.user_id == user_id))
    if user is None:
        raise NotFound(f"no user with user_id {user_id!r}", field="user_id")
    return user


def actor_of(session: Session, user: User) -> Actor:
    """The user acting, with their role's rights (roles are few: the session keeps each
    after its first load)."""
    role = session.get(Role, user.role_id)
    assert role is not None
    return Actor(
        id=user.id,
        user_id=user.user_id,
        email=user.email,
        display_name=user.display_name,
        role=role.name,
        rights=role_rights(role),
        language=user.language,
    )


def role_rights(role: Role) -> frozenset[Right]:
    return rights_of(role.name, role.builtin, role.rights)


def role_info(role: Role) -> RoleInfo:
    return RoleInfo(
        id=role.id,
        name=role.name,
        description=role.description,
        builtin=role.builtin,
        rights=role_rights(role),
    )


class SqlUserStore:
    """:class:`callhopper.ports.users.UserStore` in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # --- roles -----------------------------------------------------------------------------

    def role(self, name: str) -> RoleInfo | None:
        role = self.session.scalar(select(Role).where(Role.name == name))
        return role_info(role) if role is not None else None

    def roles(self) -> list[RoleInfo]:
        query = select(Role).order_by(Role.builtin.desc(), Role.name)
        return [role_info(r) for r in self.session.scalars(query)]

    def add_role(
        self, *, name: str, description: str, rights: frozenset[Right], now: datetime
    ) -> RoleInfo:
        role = Role(
            name=name,
            description=description,
            builtin=False,
            rights=sorted(r.value for r in rights),
            created_at=now,
        )
        self.session.add(role)
        self.session.flush()
        return role_info(role)

    def change_role(
        self, role_id: int, *, description: str | None, rights: frozenset[Right] | None
    ) -> RoleInfo:
        role = self._role(role_id)
        if rights is not None:
            role.rights = sorted(r.value for r in rights)
        if description is not None:
            role.description = description
        self.session.flush()
        return role_info(role)

    def delete_role(self, role_id: int) -> None:
        self.session.delete(self._role(role_id))
        self.session.flush()

    def role_holders(self, role_id: int) -> int:
        query = select(func.count()).select_from(User).where(User.role_id == role_id)
        return int(self.session.scalar(query) or 0)

    def _role(self, role_id: int) -> Role:
        role = self.session.get(Role, role_id)
        if role is None:
            raise NotFound(f"no role {role_id}", field="role")
        return role

    # --- users -----------------------------------------------------------------------------

    def user(self, user_id: str) -> UserInfo | None:
        user = self.session.scalar(select(User).where(User.user_id == user_id))
        return self._info(user) if user is not None else None

    def user_by_email(self, email: str) -> UserInfo | None:
        user = self.session.scalar(select(User).where(User.email_key == email_key(email)))
        return self._info(user) if user is not None else None

    def user_id_taken(self, user_id: str) -> bool:
        return self.session.scalar(select(User.id).where(User.user_id == user_id)) is not None

    def users(self, *, role: str | None = None, active: bool | None = None) -> list[UserInfo]:
        query = select(User).order_by(User.id)
        if role is not None:
            query = query.join(Role, Role.id == User.role_id).where(Role.name == role)
        if active is not None:
            query = query.where(User.active.is_(active))
        return [self._info(u) for u in self.session.scalars(query)]

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
        user = User(
            user_id=user_id,
            email=email,
            email_key=email_key(email),
            display_name=display_name,
            role_id=role_id,
            active=True,
            password_hash=password_hash,
            created_at=now,
            language=language,
        )
        self.session.add(user)
        self.session.flush()
        return self._info(user)

    def add_users(self, users: Sequence[NewUser], *, now: datetime) -> dict[str, int]:
        if not users:
            return {}
        rows = [
            {
                "user_id": u.user_id,
                "email": u.email,
                "email_key": email_key(u.email),
                "display_name": u.display_name,
                "role_id": u.role_id,
                "active": True,
                "password_hash": u.password_hash,
                "created_at": now,
            }
            for u in users
        ]
        # One INSERT for many rows (the driver's multi-row VALUES), ids returned in order.
        found = self.session.execute(
            insert(_USERS).returning(_USERS.c.user_id, _USERS.c.id, sort_by_parameter_order=True),
            rows,
        )
        return {user_id: int(id_) for user_id, id_ in found}

    def taken(
        self, user_ids: Sequence[str], email_keys: Sequence[str]
    ) -> tuple[set[str], set[str]]:
        ids = set(
            self.session.scalars(select(User.user_id).where(User.user_id.in_(list(user_ids))))
        )
        emails = set(
            self.session.scalars(select(User.email_key).where(User.email_key.in_(list(email_keys))))
        )
        return ids, emails

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
        user = self._user(id)
        if email is not None:
            user.email, user.email_key = email, email_key(email)
        if display_name is not None:
            user.display_name = display_name
        if role_id is not None:
            user.role_id = role_id
        if password_hash is not None:
            user.password_hash = password_hash
        if language is not None:
            user.language = language
        self.session.flush()
        return self._info(user)

    def set_active(self, id: int, active: bool, *, now: datetime) -> UserInfo:
        user = self._user(id)
        user.active = active
        user.deactivated_at = None if active else now
        self.session.flush()
        return self._info(user)

    def password_hash(self, id: int) -> str | None:
        return self._user(id).password_hash

    def end_agent_work(self, id: int, *, now: datetime) -> int:
        return end_agent_work(self.session, id, now)

    def _user(self, id: int) -> User:
        user = self.session.get(User, id)
        if user is None:
            raise NotFound(f"no user {id}", field="user_id")
        return user

    def _info(self, user: User) -> UserInfo:
        role = self.session.get(Role, user.role_id)
        assert role is not None
        return UserInfo(
            id=user.id,
            user_id=user.user_id,
            email=user.email,
            display_name=user.display_name,
            role=role.name,
            rights=role_rights(role),
            active=user.active,
            created_at=user.created_at,
            deactivated_at=user.deactivated_at,
            language=user.language,
        )


def token_info(token: AuthToken) -> TokenInfo:
    return TokenInfo(
        id=token.id,
        user_id=token.user_id,
        kind=TokenKind(token.kind),
        name=token.name,
        prefix=token.prefix,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


# Table columns, not ORM entities or attributes: every API request runs this, and the ORM's
# handling of a statement (and the loading of three objects, the password hash among them)
# cost more than the query itself.
_TOKENS, _USERS, _ROLES = table_of(AuthToken), table_of(User), table_of(Role)
_HOLDER = (
    select(
        _TOKENS.c.id,
        _TOKENS.c.revoked_at,
        _TOKENS.c.expires_at,
        _TOKENS.c.last_used_at,
        _USERS.c.id,
        _USERS.c.user_id,
        _USERS.c.email,
        _USERS.c.display_name,
        _USERS.c.active,
        _USERS.c.language,
        _ROLES.c.name,
        _ROLES.c.builtin,
        _ROLES.c.rights,
    )
    .join(_USERS, _USERS.c.id == _TOKENS.c.user_id)
    .join(_ROLES, _ROLES.c.id == _USERS.c.role_id)
    .where(_TOKENS.c.token_hash == bindparam("token_hash"))
)


class SqlTokenStore:
    """:class:`callhopper.ports.users.TokenStore` in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

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
    ) -> TokenInfo:
        token = AuthToken(
            user_id=user_id,
            kind=kind.value,
            name=name,
            token_hash=token_hash,
            prefix=prefix,
            created_at=now,
            expires_at=expires_at,
        )
        self.session.add(token)
        self.session.flush()
        return token_info(token)

    def token(self, token_id: int) -> TokenInfo | None:
        token = self.session.get(AuthToken, token_id)
        return token_info(token) if token is not None else None

    def tokens(self, user_id: int, kind: TokenKind) -> list[TokenInfo]:
        query = (
            select(AuthToken)
            .where(AuthToken.user_id == user_id, AuthToken.kind == kind.value)
            .order_by(AuthToken.id)
        )
        return [token_info(t) for t in self.session.scalars(query)]

    def revoke(self, token_id: int, *, now: datetime) -> None:
        self._revoke(AuthToken.id == token_id, now)

    def revoke_all(self, user_id: int, *, now: datetime) -> None:
        self._revoke(AuthToken.user_id == user_id, now)

    def revoke_secret(self, token_hash: str, *, now: datetime) -> None:
        self._revoke(AuthToken.token_hash == token_hash, now)

    def _revoke(self, which: ColumnElement[bool], now: datetime) -> None:
        self.session.execute(
            update(AuthToken).where(which, AuthToken.revoked_at.is_(None)).values(revoked_at=now)
        )

    def holder(self, token_hash: str) -> TokenHolder | None:
        row = self.session.execute(_HOLDER, {"token_hash": token_hash}).first()
        if row is None:
            return None
        token_id, revoked_at, expires_at, last_used_at, uid, user_id, email, name, active = row[:9]
        language, role, builtin, rights = row[9:]
        actor = Actor(
            id=uid,
            user_id=user_id,
            email=email,
            display_name=name,
            role=role,
            rights=rights_of(role, builtin, rights),
            language=language,
        )
        return TokenHolder(token_id, revoked_at, expires_at, last_used_at, bool(active), actor)

    def touch(self, token_id: int, *, now: datetime) -> None:
        self.session.execute(
            update(AuthToken).where(AuthToken.id == token_id).values(last_used_at=now)
        )

    def sign_in_failures(self, email_key: str, address: str, *, since: datetime) -> SignInFailures:
        def count(column: Any, value: str) -> tuple[int, datetime | None]:
            row = self.session.execute(
                select(func.count(), func.min(SignInFailure.at)).where(
                    column == value, SignInFailure.at > since
                )
            ).one()
            return int(row[0]), row[1]

        account, account_oldest = count(SignInFailure.email_key, email_key)
        address_count, address_oldest = count(SignInFailure.address, address)
        return SignInFailures(account, account_oldest, address_count, address_oldest)

    def add_sign_in_failure(self, email_key: str, address: str, *, now: datetime) -> None:
        self.session.add(SignInFailure(email_key=email_key, address=address, at=now))

    def forget_sign_in_failures(self, *, email_key: str | None, before: datetime) -> None:
        if email_key is not None:
            self.session.execute(delete(SignInFailure).where(SignInFailure.email_key == email_key))
        self.session.execute(
            delete(SignInFailure)
            .where(SignInFailure.at <= before)
            .execution_options(synchronize_session=False)
        )
