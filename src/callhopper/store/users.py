"""Users, roles and credentials (SPEC §1)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from callhopper.domain.actors import Actor
from callhopper.domain.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from callhopper.domain.rights import BUILTIN_ROLES, Right, parse_rights
from callhopper.security import (
    API_TOKEN_PREFIX,
    MIN_PASSWORD_LENGTH,
    SESSION_PREFIX,
    hash_password,
    new_secret,
    secret_hash,
    verify_password,
)
from callhopper.store.audit import audit
from callhopper.store.models import AuthToken, QueueMember, Role, User, table_of

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: No ``@``: an owner value with one is an email, one without is a user id, and a user id
#: that reads like another user's email could capture that user's records.
_USER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: ``last_used_at`` is refreshed at most this often, to keep reads read-only.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)


def email_key(email: str) -> str:
    """The case-insensitive form of an email, used for uniqueness and owner matching."""
    return email.strip().lower()


def check_email(email: str) -> str:
    email = email.strip()
    if not _EMAIL_RE.match(email):
        raise InvalidInput(f"{email!r} is not an email address", field="email")
    return email


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    return password


# --- roles -------------------------------------------------------------------------------------


def role_rights(role: Role) -> frozenset[Right]:
    return rights_of(role.name, role.builtin, role.rights)


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


def _require_manageable(session: Session, actor: Actor, user: User) -> None:
    """The actor may manage ``user`` (edit, (de)activate, tokens) only if every right of the
    user's role is also the actor's."""
    role = session.get(Role, user.role_id)
    assert role is not None
    require_within(actor, role_rights(role), f"user {user.user_id!r} (role {role.name!r})")


def rights_of(name: str, builtin: bool, rights: list[str]) -> frozenset[Right]:
    """A role's rights: a built-in role's from code, a custom role's as stored."""
    return BUILTIN_ROLES[name] if builtin else parse_rights(rights)


def get_role(session: Session, name: str) -> Role:
    role = session.scalar(select(Role).where(Role.name == name))
    if role is None:
        raise NotFound(f"no role named {name!r}", field="role")
    return role


def list_roles(session: Session) -> Sequence[Role]:
    return session.scalars(select(Role).order_by(Role.builtin.desc(), Role.name)).all()


def create_role(
    session: Session,
    actor: Actor,
    *,
    name: str,
    rights: list[str] | None,
    based_on: str | None,
    without: list[str],
    description: str,
    now: datetime,
) -> Role:
    """A custom role: explicit ``rights``, or a role ``based_on`` another ``without`` some."""
    name = name.strip()
    if not name:
        raise InvalidInput("the role name is empty", field="name")
    if session.scalar(select(Role.id).where(Role.name == name)) is not None:
        raise AlreadyExists(f"a role named {name!r} already exists", field="name")
    if (rights is None) == (based_on is None):
        raise InvalidInput("give either rights or based_on (with without)", field="rights")
    if rights is not None:
        granted = parse_rights(rights)
    else:
        assert based_on is not None
        granted = role_rights(get_role(session, based_on)) - parse_rights(without)
    require_within(actor, granted, f"the role {name!r}")
    role = Role(
        name=name,
        description=description,
        builtin=False,
        rights=sorted(r.value for r in granted),
        created_at=now,
    )
    session.add(role)
    session.flush()
    audit(session, actor, "role.create", "role", name, now=now, after=role_view(role))
    return role


def update_role(
    session: Session,
    actor: Actor,
    name: str,
    *,
    rights: list[str] | None,
    description: str | None,
    now: datetime,
) -> Role:
    role = get_role(session, name)
    if role.builtin:
        raise Conflict(f"the built-in role {name!r} cannot be changed", field="name")
    require_within(actor, role_rights(role), f"the role {name!r}")
    before = role_view(role)
    if rights is not None:
        granted = parse_rights(rights)
        require_within(actor, granted, f"the role {name!r} as changed")
        role.rights = sorted(r.value for r in granted)
    if description is not None:
        role.description = description
    audit(
        session, actor, "role.update", "role", name, now=now, before=before, after=role_view(role)
    )
    return role


def delete_role(session: Session, actor: Actor, name: str, *, now: datetime) -> None:
    role = get_role(session, name)
    if role.builtin:
        raise Conflict(f"the built-in role {name!r} cannot be deleted", field="name")
    require_within(actor, role_rights(role), f"the role {name!r}")
    holders = session.scalar(select(func.count()).select_from(User).where(User.role_id == role.id))
    if holders:
        raise Conflict(f"{holders} user(s) still have the role {name!r}", field="name")
    audit(session, actor, "role.delete", "role", name, now=now, before=role_view(role))
    session.delete(role)


def role_view(role: Role) -> dict[str, Any]:
    return {
        "name": role.name,
        "builtin": role.builtin,
        "description": role.description,
        "rights": sorted(r.value for r in role_rights(role)),
    }


# --- users -------------------------------------------------------------------------------------


def get_user(session: Session, user_id: str) -> User:
    user = session.scalar(select(User).where(User.user_id == user_id))
    if user is None:
        raise NotFound(f"no user with user_id {user_id!r}", field="user_id")
    return user


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email_key == email_key(email)))


def list_users(
    session: Session, *, role: str | None = None, active: bool | None = None
) -> Sequence[User]:
    query = select(User).order_by(User.id)
    if role is not None:
        query = query.join(Role, Role.id == User.role_id).where(Role.name == role)
    if active is not None:
        query = query.where(User.active.is_(active))
    return session.scalars(query).all()


def create_user(
    session: Session,
    actor: Actor,
    *,
    email: str,
    display_name: str,
    role: str,
    password: str | None,
    user_id: str | None,
    now: datetime,
) -> User:
    email = check_email(email)
    if user_id is None:
        user_id = "u_" + secrets.token_hex(6)
    elif not _USER_ID_RE.match(user_id):
        raise InvalidInput(
            f"{user_id!r} is not a valid user_id (letters, digits, _ . -; at most 64; "
            "no @, which would read as an email)",
            field="user_id",
        )
    if session.scalar(select(User.id).where(User.user_id == user_id)) is not None:
        raise AlreadyExists(f"user_id {user_id!r} is taken", field="user_id")
    if get_user_by_email(session, email) is not None:
        raise AlreadyExists(f"a user with email {email!r} already exists", field="email")
    granted = get_role(session, role)
    require_within(actor, role_rights(granted), f"the role {role!r}")
    user = User(
        user_id=user_id,
        email=email,
        email_key=email_key(email),
        display_name=display_name.strip() or email,
        role_id=granted.id,
        active=True,
        password_hash=hash_password(check_password(password)) if password is not None else None,
        created_at=now,
    )
    session.add(user)
    session.flush()
    audit(session, actor, "user.create", "user", user_id, now=now, after=user_view(session, user))
    return user


def update_user(
    session: Session,
    actor: Actor,
    user_id: str,
    *,
    email: str | None = None,
    display_name: str | None = None,
    role: str | None = None,
    password: str | None = None,
    now: datetime,
) -> User:
    user = get_user(session, user_id)
    _require_manageable(session, actor, user)
    before = user_view(session, user)
    if email is not None:
        email = check_email(email)
        other = get_user_by_email(session, email)
        if other is not None and other.id != user.id:
            raise AlreadyExists(f"a user with email {email!r} already exists", field="email")
        user.email, user.email_key = email, email_key(email)
    if display_name is not None:
        user.display_name = display_name.strip() or user.email
    if role is not None:
        granted = get_role(session, role)
        require_within(actor, role_rights(granted), f"the role {role!r}")
        user.role_id = granted.id
    if password is not None:
        user.password_hash = hash_password(check_password(password))
    session.flush()
    after = user_view(session, user)
    audit(
        session,
        actor,
        "user.update",
        "user",
        user_id,
        now=now,
        before=before,
        after=after,
        reason="password changed" if password is not None else "",
    )
    return user


def set_user_active(
    session: Session, actor: Actor, user_id: str, active: bool, *, now: datetime
) -> User:
    """Deactivate (or reactivate) a user. History stays; sessions and tokens stop working."""
    user = get_user(session, user_id)
    _require_manageable(session, actor, user)
    if actor.id == user.id and not active:
        raise Conflict("you cannot deactivate yourself", field="user_id")
    if user.active == active:
        return user
    before = user_view(session, user)
    user.active = active
    user.deactivated_at = None if active else now
    if not active:
        for token in session.scalars(
            select(AuthToken).where(AuthToken.user_id == user.id, AuthToken.revoked_at.is_(None))
        ):
            token.revoked_at = now
    session.flush()
    if not active:
        from callhopper.store.dispensing import end_agent_work

        end_agent_work(session, user.id, now)
    audit(
        session,
        actor,
        "user.activate" if active else "user.deactivate",
        "user",
        user_id,
        now=now,
        before=before,
        after=user_view(session, user),
    )
    return user


def user_view(session: Session, user: User) -> dict[str, Any]:
    role = session.get(Role, user.role_id)
    assert role is not None
    return {
        "user_id": user.user_id,
        "email": user.email,
        "display_name": user.display_name,
        "role": role.name,
        "active": user.active,
    }


def actor_of(session: Session, user: User) -> Actor:
    role = session.get(Role, user.role_id)
    assert role is not None
    return Actor(
        id=user.id,
        user_id=user.user_id,
        email=user.email,
        display_name=user.display_name,
        role=role.name,
        rights=role_rights(role),
    )


def queue_ids_of(session: Session, user: User) -> list[int]:
    return list(session.scalars(select(QueueMember.queue_id).where(QueueMember.user_id == user.id)))


# --- credentials -------------------------------------------------------------------------------


def login(session: Session, email: str, password: str, *, now: datetime, ttl: timedelta) -> str:
    """Check a password and open a login session; returns the session secret."""
    user = get_user_by_email(session, email)
    ok = verify_password(user.password_hash if user is not None else None, password)
    if user is None or not ok or not user.active:
        raise NotAuthenticated("wrong email or password, or the account is deactivated")
    secret = _issue(session, user, "session", "login", now=now, expires_at=now + ttl)
    return secret


def create_api_token(
    session: Session, actor: Actor, user: User, name: str, *, now: datetime, ttl: timedelta | None
) -> tuple[AuthToken, str]:
    """A new API token for ``user``; the secret is returned once and never stored. A token
    for another user acts as that user, so it needs every right they hold."""
    if actor.id != user.id:
        _require_manageable(session, actor, user)
    secret = _issue(
        session, user, "api", name, now=now, expires_at=now + ttl if ttl is not None else None
    )
    token = session.scalar(select(AuthToken).where(AuthToken.token_hash == secret_hash(secret)))
    assert token is not None
    audit(
        session,
        actor,
        "token.create",
        "user",
        user.user_id,
        now=now,
        after={"token_id": token.id, "name": name, "prefix": token.prefix},
    )
    return token, secret


def _issue(
    session: Session,
    user: User,
    kind: str,
    name: str,
    *,
    now: datetime,
    expires_at: datetime | None,
) -> str:
    secret = new_secret(API_TOKEN_PREFIX if kind == "api" else SESSION_PREFIX)
    session.add(
        AuthToken(
            user_id=user.id,
            kind=kind,
            name=name,
            token_hash=secret_hash(secret),
            prefix=secret[:10],
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()
    return secret


def list_tokens(session: Session, user: User) -> Sequence[AuthToken]:
    return session.scalars(
        select(AuthToken)
        .where(AuthToken.user_id == user.id, AuthToken.kind == "api")
        .order_by(AuthToken.id)
    ).all()


def revoke_token(
    session: Session, actor: Actor, token_id: int, *, now: datetime, of: User | None = None
) -> AuthToken:
    """Revoke an API token of the actor's own, or (``of``) one of that user's."""
    token = session.get(AuthToken, token_id)
    holder = actor.id if of is None else of.id
    if token is None or token.kind != "api" or token.user_id != holder:
        raise NotFound(f"no API token {token_id}", field="token_id")
    if of is not None and of.id != actor.id:
        _require_manageable(session, actor, of)
    if token.revoked_at is None:
        token.revoked_at = now
        owner = session.get(User, token.user_id)
        assert owner is not None
        audit(
            session,
            actor,
            "token.revoke",
            "user",
            owner.user_id,
            now=now,
            before={"token_id": token.id, "name": token.name, "prefix": token.prefix},
        )
    return token


def end_session(session: Session, secret: str, *, now: datetime) -> None:
    token = session.scalar(select(AuthToken).where(AuthToken.token_hash == secret_hash(secret)))
    if token is not None and token.revoked_at is None:
        token.revoked_at = now


@dataclass(frozen=True)
class Authenticated:
    """Who a valid secret stands for, and when the secret was last used."""

    actor: Actor
    token_id: int
    last_used_at: datetime | None


# Table columns, not ORM entities or attributes: every API request runs this, and the ORM's
# handling of a statement (and the loading of three objects, the password hash among them)
# cost more than the query itself.
_TOKENS, _USERS, _ROLES = table_of(AuthToken), table_of(User), table_of(Role)
_AUTHENTICATE = (
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
        _ROLES.c.name,
        _ROLES.c.builtin,
        _ROLES.c.rights,
    )
    .join(_USERS, _USERS.c.id == _TOKENS.c.user_id)
    .join(_ROLES, _ROLES.c.id == _USERS.c.role_id)
    .where(_TOKENS.c.token_hash == bindparam("token_hash"))
)


def authenticate(session: Session, secret: str, *, now: datetime) -> Authenticated | None:
    """Who a session or API secret stands for, or ``None`` if it is not valid now."""
    row = session.execute(_AUTHENTICATE, {"token_hash": secret_hash(secret)}).first()
    if row is None:
        return None
    token_id, revoked_at, expires_at, last_used_at, uid, user_id, email, name, active = row[:9]
    role, builtin, rights = row[9:]
    if revoked_at is not None or not active:
        return None
    if expires_at is not None and expires_at <= now:
        return None
    actor = Actor(
        id=uid,
        user_id=user_id,
        email=email,
        display_name=name,
        role=role,
        rights=rights_of(role, builtin, rights),
    )
    return Authenticated(actor, token_id, last_used_at)


def touch_token(session: Session, token_id: int, *, now: datetime) -> None:
    token = session.get(AuthToken, token_id)
    if token is not None:
        token.last_used_at = now
