"""Managing users, their API tokens, and roles: :class:`UserService`.

Every change is audited in its transaction. Whoever manages users (``user.manage``) hands
out no more than they hold (:func:`~callhopper.domain.users.require_within`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import IO

from callhopper.core.user_import import import_users
from callhopper.domain.actors import Actor
from callhopper.domain.credentials import new_secret, secret_hash
from callhopper.domain.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from callhopper.domain.rights import Right, parse_rights
from callhopper.domain.users import (
    API_TOKEN_PREFIX,
    TOKEN_PREFIX_CHARS,
    IssuedToken,
    RoleInfo,
    TokenInfo,
    TokenKind,
    UserDetails,
    UserInfo,
    check_email,
    check_language,
    check_password,
    check_role_name,
    check_user_id,
    new_user_id,
    require_manageable,
    require_within,
)
from callhopper.ports.clock import Clock
from callhopper.ports.passwords import PasswordHasher
from callhopper.ports.transactions import Transaction, UnitOfWork


class UserService:
    """Users, their skills and API tokens; roles and rights."""

    def __init__(self, uow: UnitOfWork, clock: Clock, passwords: PasswordHasher) -> None:
        self.uow = uow
        self.clock = clock
        self.passwords = passwords

    # --- users -----------------------------------------------------------------------------

    def users(self, *, role: str | None = None, active: bool | None = None) -> list[UserDetails]:
        """Users in creation order, of a role and active (or deactivated) when given."""
        with self.uow.read() as tx:
            return _details(tx, tx.users.users(role=role, active=active))

    def user(self, user_id: str) -> UserDetails:
        with self.uow.read() as tx:
            return _details(tx, [_user(tx, user_id)])[0]

    def user_by_email(self, email: str) -> UserDetails | None:
        """The user with this email (in any case), if there is one."""
        with self.uow.read() as tx:
            user = tx.users.user_by_email(email)
            return _details(tx, [user])[0] if user is not None else None

    def create_user(
        self,
        actor: Actor,
        *,
        email: str,
        display_name: str = "",
        role: str = "agent",
        password: str | None = None,
        user_id: str | None = None,
        language: str | None = None,
    ) -> UserDetails:
        """A new active user. Without ``user_id`` one is made up; without ``password`` the
        user can only use API tokens; without ``language`` the pages follow the browser."""
        now = self.clock.now()
        email = check_email(email)
        language = None if language is None else check_language(language)
        user_id = new_user_id() if user_id is None else check_user_id(user_id)
        with self.uow.write() as tx:
            if tx.users.user_id_taken(user_id):
                raise AlreadyExists(f"user_id {user_id!r} is taken", field="user_id")
            if tx.users.user_by_email(email) is not None:
                raise AlreadyExists(f"a user with email {email!r} already exists", field="email")
            granted = _role(tx, role)
            require_within(actor, granted.rights, f"the role {role!r}")
            user = tx.users.add_user(
                user_id=user_id,
                email=email,
                display_name=display_name.strip() or email,
                role_id=granted.id,
                password_hash=self._hash(password),
                now=now,
                language=language,
            )
            tx.audit.add(actor, "user.create", "user", user_id, now=now, after=user.view())
            return _details(tx, [user])[0]

    def update_user(
        self,
        actor: Actor,
        user_id: str,
        *,
        email: str | None = None,
        display_name: str | None = None,
        role: str | None = None,
        password: str | None = None,
        language: str | None = None,
    ) -> UserDetails:
        """Change the fields given (``None`` keeps one as it is)."""
        now = self.clock.now()
        language = None if language is None else check_language(language)
        with self.uow.write() as tx:
            user = _user(tx, user_id)
            require_manageable(actor, user)
            before = user.view()
            if email is not None:
                email = check_email(email)
                other = tx.users.user_by_email(email)
                if other is not None and other.id != user.id:
                    raise AlreadyExists(
                        f"a user with email {email!r} already exists", field="email"
                    )
            role_id = None
            if role is not None:
                granted = _role(tx, role)
                require_within(actor, granted.rights, f"the role {role!r}")
                role_id = granted.id
            name = None
            if display_name is not None:
                name = display_name.strip() or (email if email is not None else user.email)
            user = tx.users.change_user(
                user.id,
                email=email,
                display_name=name,
                role_id=role_id,
                password_hash=self._hash(password),
                language=language,
            )
            tx.audit.add(
                actor,
                "user.update",
                "user",
                user_id,
                now=now,
                before=before,
                after=user.view(),
                reason="password changed" if password is not None else "",
            )
            return _details(tx, [user])[0]

    def set_own_language(self, actor: Actor, language: str) -> UserInfo:
        """Keep the pages' language ``actor`` chose (any signed-in user may, for
        themselves; it follows them to every browser they sign in from)."""
        language = check_language(language)
        if actor.id is None:
            raise Conflict("the system has no language preference", field="language")
        now = self.clock.now()
        with self.uow.write() as tx:
            user = _user(tx, actor.user_id)
            if user.language == language:
                return user
            before = user.view()
            user = tx.users.change_user(user.id, language=language)
            tx.audit.add(
                actor,
                "user.update",
                "user",
                user.user_id,
                now=now,
                before=before,
                after=user.view(),
                reason="language chosen",
            )
            return user

    def set_active(self, actor: Actor, user_id: str, active: bool) -> UserDetails:
        """Deactivate (or reactivate) a user. Their history stays; their sessions and tokens
        stop working and, as an agent, they leave every campaign at once."""
        now = self.clock.now()
        with self.uow.write() as tx:
            user = _user(tx, user_id)
            require_manageable(actor, user)
            if actor.id == user.id and not active:
                raise Conflict("you cannot deactivate yourself", field="user_id")
            if user.active != active:
                before = user.view()
                user = tx.users.set_active(user.id, active, now=now)
                if not active:
                    tx.tokens.revoke_all(user.id, now=now)
                    tx.users.end_agent_work(user.id, now=now)
                tx.audit.add(
                    actor,
                    "user.activate" if active else "user.deactivate",
                    "user",
                    user_id,
                    now=now,
                    before=before,
                    after=user.view(),
                )
            return _details(tx, [user])[0]

    def set_skills(self, actor: Actor, user_id: str, skill_ids: Sequence[int]) -> UserDetails:
        """Make the user hold exactly these skills (lead filters)."""
        now = self.clock.now()
        with self.uow.write() as tx:
            user = _user(tx, user_id)
            skills = []
            for skill_id in dict.fromkeys(skill_ids):
                skill = tx.skills.skill(skill_id)
                if skill is None:
                    raise NotFound(f"no skill {skill_id}", field="skill_id")
                skills.append(skill)
            before = [s.name for s in tx.skills.skills_of(user.id)]
            tx.skills.set_skills_of(user.id, [s.id for s in skills])
            tx.audit.add(
                actor,
                "user.skills",
                "user",
                user.user_id,
                now=now,
                before={"skills": before},
                after={"skills": [s.name for s in skills]},
            )
            return _details(tx, [user])[0]

    def import_users(self, actor: Actor, stream: IO[bytes]) -> list[str]:
        """Create the users of a CSV file, all or none (:mod:`callhopper.core.user_import`);
        their user ids in the file's order."""
        return import_users(self.uow, self.clock, self.passwords, actor, stream)

    def _hash(self, password: str | None) -> str | None:
        return self.passwords.hash(check_password(password)) if password is not None else None

    # --- API tokens ------------------------------------------------------------------------

    def tokens(self, user_id: str) -> list[TokenInfo]:
        """The user's API tokens (revoked ones too), oldest first."""
        with self.uow.read() as tx:
            return tx.tokens.tokens(_user(tx, user_id).id, TokenKind.API)

    def create_token(
        self, actor: Actor, user_id: str, name: str, *, expires_in_days: int | None = None
    ) -> IssuedToken:
        """A new API token for ``user_id``; its secret is in the answer and nowhere else. A
        token for another user acts as that user, so it needs every right they hold."""
        now = self.clock.now()
        with self.uow.write() as tx:
            user = _user(tx, user_id)
            if actor.id != user.id:
                require_manageable(actor, user)
            secret = new_secret(API_TOKEN_PREFIX)
            token = tx.tokens.add(
                user_id=user.id,
                kind=TokenKind.API,
                name=name,
                token_hash=secret_hash(secret),
                prefix=secret[:TOKEN_PREFIX_CHARS],
                now=now,
                expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
            )
            tx.audit.add(actor, "token.create", "user", user.user_id, now=now, after=token.view())
            return IssuedToken(token, secret)

    def revoke_token(self, actor: Actor, token_id: int, *, of: str | None = None) -> None:
        """Revoke an API token of the actor's own, or (``of``) one of that user's."""
        now = self.clock.now()
        with self.uow.write() as tx:
            holder = _user(tx, of) if of is not None else None
            holder_id = actor.id if holder is None else holder.id
            token = tx.tokens.token(token_id)
            if token is None or token.kind is not TokenKind.API or token.user_id != holder_id:
                raise NotFound(f"no API token {token_id}", field="token_id")
            if holder is not None and holder.id != actor.id:
                require_manageable(actor, holder)
            if token.revoked_at is None:
                tx.tokens.revoke(token.id, now=now)
                tx.audit.add(
                    actor,
                    "token.revoke",
                    "user",
                    holder.user_id if holder is not None else actor.user_id,
                    now=now,
                    before=token.view(),
                )

    # --- roles -----------------------------------------------------------------------------

    @staticmethod
    def rights() -> list[str]:
        """Every right that exists."""
        return sorted(r.value for r in Right)

    def roles(self) -> list[RoleInfo]:
        """Every role, the built-in ones first."""
        with self.uow.read() as tx:
            return tx.users.roles()

    def create_role(
        self,
        actor: Actor,
        *,
        name: str,
        rights: list[str] | None = None,
        based_on: str | None = None,
        without: Sequence[str] = (),
        description: str = "",
    ) -> RoleInfo:
        """A custom role: explicit ``rights``, or a role ``based_on`` another ``without``
        some of its rights."""
        now = self.clock.now()
        name = check_role_name(name)
        with self.uow.write() as tx:
            if tx.users.role(name) is not None:
                raise AlreadyExists(f"a role named {name!r} already exists", field="name")
            if (rights is None) == (based_on is None):
                raise InvalidInput("give either rights or based_on (with without)", field="rights")
            if rights is not None:
                granted = parse_rights(rights)
            else:
                assert based_on is not None
                granted = _role(tx, based_on).rights - parse_rights(list(without))
            require_within(actor, granted, f"the role {name!r}")
            role = tx.users.add_role(name=name, description=description, rights=granted, now=now)
            tx.audit.add(actor, "role.create", "role", name, now=now, after=role.view())
            return role

    def update_role(
        self,
        actor: Actor,
        name: str,
        *,
        rights: list[str] | None = None,
        description: str | None = None,
    ) -> RoleInfo:
        """Change a custom role's rights or description."""
        now = self.clock.now()
        with self.uow.write() as tx:
            role = _custom_role(tx, actor, name, "changed")
            granted = None
            if rights is not None:
                granted = parse_rights(rights)
                require_within(actor, granted, f"the role {name!r} as changed")
            after = tx.users.change_role(role.id, description=description, rights=granted)
            tx.audit.add(
                actor, "role.update", "role", name, now=now, before=role.view(), after=after.view()
            )
            return after

    def delete_role(self, actor: Actor, name: str) -> None:
        """Delete a custom role no user has."""
        now = self.clock.now()
        with self.uow.write() as tx:
            role = _custom_role(tx, actor, name, "deleted")
            holders = tx.users.role_holders(role.id)
            if holders:
                raise Conflict(f"{holders} user(s) still have the role {name!r}", field="name")
            tx.audit.add(actor, "role.delete", "role", name, now=now, before=role.view())
            tx.users.delete_role(role.id)


def _user(tx: Transaction, user_id: str) -> UserInfo:
    user = tx.users.user(user_id)
    if user is None:
        raise NotFound(f"no user with user_id {user_id!r}", field="user_id")
    return user


def _role(tx: Transaction, name: str) -> RoleInfo:
    role = tx.users.role(name)
    if role is None:
        raise NotFound(f"no role named {name!r}", field="role")
    return role


def _custom_role(tx: Transaction, actor: Actor, name: str, what: str) -> RoleInfo:
    """A role the actor may change: not built in, and with no right the actor lacks."""
    role = _role(tx, name)
    if role.builtin:
        raise Conflict(f"the built-in role {name!r} cannot be {what}", field="name")
    require_within(actor, role.rights, f"the role {name!r}")
    return role


def _details(tx: Transaction, users: Sequence[UserInfo]) -> list[UserDetails]:
    ids = [u.id for u in users]
    skills = tx.skills.skill_ids(ids)
    queues = tx.queues.queue_ids(ids)
    return [UserDetails(u, tuple(skills[u.id]), tuple(queues[u.id])) for u in users]
