"""The audit log's entries, and how a reader asks for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who (``actor``: a user_id, or ``system``) did what (``action``) to which target, with
    the state before and after, and why."""

    id: int
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Entries matching every filter given, newest first, at most ``limit``.

    ``action`` is an exact action, or a prefix ending in ``.`` (``user.`` selects every user
    action). ``since`` is inclusive, ``until`` exclusive; ``before_id`` pages on to older
    entries. Entries whose action is in ``hidden_actions`` or starts with one of
    ``hidden_prefixes`` are left out.
    """

    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    limit: int = 100
    hidden_prefixes: tuple[str, ...] = ()
    hidden_actions: tuple[str, ...] = ()
