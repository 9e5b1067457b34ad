"""The queue ports: queues and their members (:class:`QueueStore`), skills and who holds
them (:class:`SkillStore`). Users are named by their internal ids."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from callhopper.domain.queues import QueueInfo, SkillInfo


class QueueStore(Protocol):
    def queue(self, queue_id: int) -> QueueInfo | None: ...

    def queues(self) -> list[QueueInfo]:
        """Every queue, by id."""
        ...

    def queue_named(self, name: str) -> int | None:
        """The id of the queue with this name."""
        ...

    def add_queue(self, *, name: str, description: str, now: datetime) -> QueueInfo: ...

    def change_queue(
        self, queue_id: int, *, name: str | None, description: str | None
    ) -> QueueInfo:
        """Set the fields given (``None`` keeps one as it is)."""
        ...

    def delete_queue(self, queue_id: int) -> None: ...

    def campaigns_using(self, queue_id: int) -> list[str]:
        """The names of the campaigns worked by the queue."""
        ...

    def add_members(self, queue_id: int, user_ids: Sequence[int], *, now: datetime) -> None:
        """Add users who are not members yet."""
        ...

    def remove_members(self, queue_id: int, user_ids: Sequence[int]) -> set[int]:
        """Remove users from the queue; returns those who were members."""
        ...

    def queue_ids(self, user_ids: Sequence[int]) -> dict[int, list[int]]:
        """Each user's queues, by id (every user given is in the answer)."""
        ...


class SkillStore(Protocol):
    def skill(self, skill_id: int) -> SkillInfo | None: ...

    def skills(self) -> list[SkillInfo]:
        """Every skill, by id."""
        ...

    def skill_named(self, name: str) -> int | None:
        """The id of the skill with this name."""
        ...

    def add_skill(
        self, *, name: str, expression: str, description: str, now: datetime
    ) -> SkillInfo: ...

    def change_skill(
        self,
        skill_id: int,
        *,
        name: str | None,
        expression: str | None,
        description: str | None,
    ) -> SkillInfo:
        """Set the fields given (``None`` keeps one as it is)."""
        ...

    def delete_skill(self, skill_id: int) -> None: ...

    def skills_of(self, user_id: int) -> list[SkillInfo]:
        """The skills the user holds, by id."""
        ...

    def set_skills_of(self, user_id: int, skill_ids: Sequence[int]) -> None:
        """Make the user hold exactly these skills."""
        ...

    def add_holders(self, pairs: Sequence[tuple[int, int]]) -> None:
        """Give users skills, in bulk: (user, skill) pairs, none held yet."""
        ...

    def skill_ids(self, user_ids: Sequence[int]) -> dict[int, list[int]]:
        """Each user's skills, by id (every user given is in the answer)."""
        ...
