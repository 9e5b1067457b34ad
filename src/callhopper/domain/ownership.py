"""Agent-owned records: who a record's owner value names, or why it names nobody.

The owner column holds agent emails (matched in any case) or user ids. A value
resolves to a deliverable owner only if it names an active user who is in the
campaign's queue snapshot; otherwise the record is undeliverable and the error
monitor says why. Resolution is pure: the store feeds it the distinct values
of the column and joins the answers back in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class OwnerError(StrEnum):
    """Why a record cannot be delivered to an owner."""

    MISSING_VALUE = "missing_value"
    INVALID_EMAIL = "invalid_email"
    UNKNOWN_USER_ID = "unknown_user_id"
    INACTIVE_USER = "inactive_user"
    NOT_IN_QUEUE = "not_in_queue"


class OwnerKind(StrEnum):
    """How the owner value names the agent."""

    EMAIL = "email"
    USER_ID = "user_id"


class OwnerOrder(StrEnum):
    """Which records are queued first when the column mixes emails and user ids."""

    EMAIL_FIRST = "email_first"
    USER_ID_FIRST = "user_id_first"

    def first(self) -> OwnerKind:
        return OwnerKind.EMAIL if self is OwnerOrder.EMAIL_FIRST else OwnerKind.USER_ID


@dataclass(frozen=True, slots=True)
class Agent:
    id: int
    user_id: str
    email_key: str
    active: bool


@dataclass(frozen=True, slots=True)
class Resolution:
    """The owner a value names (``agent_id``, kept even when undeliverable) and the error."""

    agent_id: int | None
    kind: OwnerKind | None
    error: OwnerError | None

    @property
    def deliverable(self) -> bool:
        return self.error is None


class OwnerDirectory:
    """Resolves owner values against users and a queue membership snapshot."""

    def __init__(self, users: Iterable[Agent], queue_members: Iterable[int]) -> None:
        self._by_email: dict[str, Agent] = {}
        self._by_user_id: dict[str, Agent] = {}
        for user in users:
            self._by_email[user.email_key] = user
            self._by_user_id[user.user_id] = user
        self._queue = frozenset(queue_members)

    def resolve(self, value: str | None) -> Resolution:
        text = (value or "").strip()
        if not text:
            return Resolution(None, None, OwnerError.MISSING_VALUE)
        if "@" in text:
            kind = OwnerKind.EMAIL
            user = self._by_email.get(text.lower()) or self._by_user_id.get(text)
            missing = OwnerError.INVALID_EMAIL
        else:
            kind = OwnerKind.USER_ID
            user = self._by_user_id.get(text)
            missing = OwnerError.UNKNOWN_USER_ID
        if user is None:
            return Resolution(None, kind, missing)
        if not user.active:
            return Resolution(user.id, kind, OwnerError.INACTIVE_USER)
        if user.id not in self._queue:
            return Resolution(user.id, kind, OwnerError.NOT_IN_QUEUE)
        return Resolution(user.id, kind, None)
