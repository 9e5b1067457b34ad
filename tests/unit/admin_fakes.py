"""In-memory fakes of the ports the administrative services use (users, tokens, queues,
skills, audit), for unit tests without a database."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from callhopper.domain.actors import Actor
from callhopper.domain.queues import QueueInfo, SkillInfo
from callhopper.domain.rights import BUILTIN_ROLES, Right
from callhopper.domain.users import (
    RoleInfo,
    SignInFailures,
    TokenHolder,
    TokenInfo,
    TokenKind,
    UserInfo,
    email_key,
)


@dataclasses.dataclass
class AuditRecord:
    actor: str
    action: str
    target_type: str
    target_id: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    reason: str


class MemoryAudit:
    def __init__(self) -> None:
        self.entries: list[AuditRecord] = []

    def add(
        self,
        actor: Actor,
        action: str,
        target_type: str,
        target_id: object,
        *,
        now: datetime,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
        reason: str = "",
    ) -> None:
        self.entries.append(
            AuditRecord(actor.user_id, action, target_type, str(target_id), before, after, reason)
        )

    @property
    def actions(self) -> list[str]:
        return [e.action for e in self.entries]


class MemoryUsers:
    def __init__(self) -> None:
        self.role_rows: dict[int, RoleInfo] = {
            n: RoleInfo(n, name, "", True, rights)
            for n, (name, rights) in enumerate(BUILTIN_ROLES.items(), start=1)
        }
        self.rows: dict[int, UserInfo] = {}
        self.hashes: dict[int, str | None] = {}
        self.ended_work: list[int] = []

    def role(self, name: str) -> RoleInfo | None:
        return next((r for r in self.role_rows.values() if r.name == name), None)

    def roles(self) -> list[RoleInfo]:
        return sorted(self.role_rows.values(), key=lambda r: (not r.builtin, r.name))

    def add_role(
        self, *, name: str, description: str, rights: frozenset[Right], now: datetime
    ) -> RoleInfo:
        role = RoleInfo(len(self.role_rows) + 1, name, description, False, rights)
        self.role_rows[role.id] = role
        return role

    def change_role(
        self, role_id: int, *, description: str | None, rights: frozenset[Right] | None
    ) -> RoleInfo:
        role = self.role_rows[role_id]
        if description is not None:
            role = dataclasses.replace(role, description=description)
        if rights is not None:
            role = dataclasses.replace(role, rights=rights)
        self.role_rows[role_id] = role
        return role

    def delete_role(self, role_id: int) -> None:
        del self.role_rows[role_id]

    def role_holders(self, role_id: int) -> int:
        name = self.role_rows[role_id].name
        return sum(1 for u in self.rows.values() if u.role == name)

    def user(self, user_id: str) -> UserInfo | None:
        return next((u for u in self.rows.values() if u.user_id == user_id), None)

    def user_by_email(self, email: str) -> UserInfo | None:
        return next((u for u in self.rows.values() if email_key(u.email) == email_key(email)), None)

    def user_id_taken(self, user_id: str) -> bool:
        return self.user(user_id) is not None

    def users(self, *, role: str | None = None, active: bool | None = None) -> list[UserInfo]:
        return [
            u
            for u in self.rows.values()
            if (role is None or u.role == role) and (active is None or u.active == active)
        ]

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
        role = self.role_rows[role_id]
        user = UserInfo(
            len(self.rows) + 1,
            user_id,
            email,
            display_name,
            role.name,
            role.rights,
            True,
            now,
            None,
            language,
        )
        self.rows[user.id] = user
        self.hashes[user.id] = password_hash
        return user

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
        user = self.rows[id]
        if email is not None:
            user = dataclasses.replace(user, email=email)
        if display_name is not None:
            user = dataclasses.replace(user, display_name=display_name)
        if role_id is not None:
            role = self.role_rows[role_id]
            user = dataclasses.replace(user, role=role.name, rights=role.rights)
        if password_hash is not None:
            self.hashes[id] = password_hash
        if language is not None:
            user = dataclasses.replace(user, language=language)
        self.rows[id] = user
        return user

    def set_active(self, id: int, active: bool, *, now: datetime) -> UserInfo:
        user = dataclasses.replace(
            self.rows[id], active=active, deactivated_at=None if active else now
        )
        self.rows[id] = user
        return user

    def password_hash(self, id: int) -> str | None:
        return self.hashes[id]

    def end_agent_work(self, id: int, *, now: datetime) -> int:
        self.ended_work.append(id)
        return 0


class MemoryTokens:
    def __init__(self, users: MemoryUsers) -> None:
        self.users = users
        self.rows: dict[int, TokenInfo] = {}
        self.hashes: dict[str, int] = {}
        self.touched: list[int] = []
        self.failures: list[tuple[str, str, datetime]] = []

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
        token = TokenInfo(
            len(self.rows) + 1, user_id, kind, name, prefix, now, expires_at, None, None
        )
        self.rows[token.id] = token
        self.hashes[token_hash] = token.id
        return token

    def token(self, token_id: int) -> TokenInfo | None:
        return self.rows.get(token_id)

    def tokens(self, user_id: int, kind: TokenKind) -> list[TokenInfo]:
        return [t for t in self.rows.values() if t.user_id == user_id and t.kind is kind]

    def revoke(self, token_id: int, *, now: datetime) -> None:
        if self.rows[token_id].revoked_at is None:
            self.rows[token_id] = dataclasses.replace(self.rows[token_id], revoked_at=now)

    def revoke_all(self, user_id: int, *, now: datetime) -> None:
        for token in list(self.rows.values()):
            if token.user_id == user_id:
                self.revoke(token.id, now=now)

    def revoke_secret(self, token_hash: str, *, now: datetime) -> None:
        if token_hash in self.hashes:
            self.revoke(self.hashes[token_hash], now=now)

    def holder(self, token_hash: str) -> TokenHolder | None:
        token = self.rows.get(self.hashes.get(token_hash, 0))
        if token is None:
            return None
        user = self.users.rows[token.user_id]
        return TokenHolder(
            token.id,
            token.revoked_at,
            token.expires_at,
            token.last_used_at,
            user.active,
            user.actor,
        )

    def touch(self, token_id: int, *, now: datetime) -> None:
        self.touched.append(token_id)
        self.rows[token_id] = dataclasses.replace(self.rows[token_id], last_used_at=now)

    def sign_in_failures(self, email_key: str, address: str, *, since: datetime) -> SignInFailures:
        account = [at for key, _, at in self.failures if key == email_key and at > since]
        address_at = [at for _, addr, at in self.failures if addr == address and at > since]
        return SignInFailures(
            len(account), min(account, default=None), len(address_at), min(address_at, default=None)
        )

    def add_sign_in_failure(self, email_key: str, address: str, *, now: datetime) -> None:
        self.failures.append((email_key, address, now))

    def forget_sign_in_failures(self, *, email_key: str | None, before: datetime) -> None:
        self.failures = [
            (key, addr, at) for key, addr, at in self.failures if key != email_key and at > before
        ]


class MemoryQueues:
    def __init__(self, users: MemoryUsers) -> None:
        self.users = users
        self.rows: dict[int, tuple[str, str]] = {}
        self.members: dict[int, list[int]] = {}
        #: Campaign names by the queue they use.
        self.campaigns: dict[int, list[str]] = {}

    def queue(self, queue_id: int) -> QueueInfo | None:
        if queue_id not in self.rows:
            return None
        name, description = self.rows[queue_id]
        members = tuple(self.users.rows[u].user_id for u in sorted(self.members[queue_id]))
        return QueueInfo(queue_id, name, description, members)

    def queue_named(self, name: str) -> int | None:
        return next((q for q, (n, _) in self.rows.items() if n == name), None)

    def add_queue(self, *, name: str, description: str, now: datetime) -> QueueInfo:
        queue_id = len(self.rows) + 1
        self.rows[queue_id] = (name, description)
        self.members[queue_id] = []
        queue = self.queue(queue_id)
        assert queue is not None
        return queue

    def delete_queue(self, queue_id: int) -> None:
        del self.rows[queue_id], self.members[queue_id]

    def campaigns_using(self, queue_id: int) -> list[str]:
        return self.campaigns.get(queue_id, [])

    def add_members(self, queue_id: int, user_ids: Sequence[int], *, now: datetime) -> None:
        self.members[queue_id] += [u for u in user_ids if u not in self.members[queue_id]]

    def remove_members(self, queue_id: int, user_ids: Sequence[int]) -> set[int]:
        gone = set(user_ids) & set(self.members[queue_id])
        self.members[queue_id] = [u for u in self.members[queue_id] if u not in gone]
        return gone

    def queue_ids(self, user_ids: Sequence[int]) -> dict[int, list[int]]:
        return {u: [q for q, m in self.members.items() if u in m] for u in user_ids}


class MemoryInbound:
    def __init__(self) -> None:
        #: Route numbers by their fallback.
        self.fallbacks: dict[str, list[str]] = {}

    def numbers_falling_back_to(self, fallback: str) -> list[str]:
        return self.fallbacks.get(fallback, [])


class MemorySkills:
    def __init__(self) -> None:
        self.rows: dict[int, SkillInfo] = {}
        self.held: dict[int, list[int]] = {}

    def skill(self, skill_id: int) -> SkillInfo | None:
        return self.rows.get(skill_id)

    def skills_of(self, user_id: int) -> list[SkillInfo]:
        return [self.rows[s] for s in self.held.get(user_id, [])]

    def set_skills_of(self, user_id: int, skill_ids: Sequence[int]) -> None:
        self.held[user_id] = list(skill_ids)

    def skill_ids(self, user_ids: Sequence[int]) -> dict[int, list[int]]:
        return {u: list(self.held.get(u, [])) for u in user_ids}


class MemoryTransaction:
    def __init__(self) -> None:
        self.audit = MemoryAudit()
        self.users = MemoryUsers()
        self.tokens = MemoryTokens(self.users)
        self.queues = MemoryQueues(self.users)
        self.skills = MemorySkills()
        self.inbound = MemoryInbound()


class MemoryUnitOfWork:
    """One shared in-memory state; a transaction that raises keeps what it did (the
    services under test check before they change)."""

    def __init__(self) -> None:
        self.tx = MemoryTransaction()
        self.writes = 0

    @contextmanager
    def read(self) -> Iterator[MemoryTransaction]:
        yield self.tx

    @contextmanager
    def write(self) -> Iterator[MemoryTransaction]:
        self.writes += 1
        yield self.tx

    @contextmanager
    def lookup(self) -> Iterator[MemoryTransaction]:
        yield self.tx


class PlainPasswords:
    """A password "hash" that is the password reversed: enough to tell them apart."""

    def hash(self, password: str) -> str:
        return password[::-1]

    def verify(self, password_hash: str | None, password: str) -> bool:
        return password_hash is not None and password_hash == password[::-1]
