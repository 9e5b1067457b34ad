"""Queues of agents, and skills: named lead filters that users hold.

A campaign is worked by the agents of its queue; an agent who holds skills is delivered only
the leads that match one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callhopper.domain.contacts import check_filter_fields
from callhopper.domain.errors import InvalidInput
from callhopper.domain.filters import Filter, parse_filter


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue with its members' user ids, in the order they were created."""

    id: int
    name: str
    description: str
    member_user_ids: tuple[str, ...]

    def view(self) -> dict[str, Any]:
        """The queue as the audit log shows it."""
        return {"id": self.id, "name": self.name, "description": self.description}


@dataclass(frozen=True, slots=True)
class SkillInfo:
    """A skill: a lead filter in its canonical text."""

    id: int
    name: str
    expression: str
    description: str

    @property
    def filter(self) -> Filter:
        return parse_filter(self.expression)

    def view(self) -> dict[str, Any]:
        """The skill as the audit log shows it."""
        return {
            "id": self.id,
            "name": self.name,
            "expression": self.expression,
            "description": self.description,
        }


def check_name(value: str) -> str:
    """A queue's or skill's name, stripped and not empty."""
    value = value.strip()
    if not value:
        raise InvalidInput("the name is empty", field="name")
    return value


def skill_expression(expression: str) -> str:
    """A skill's filter in canonical text; :class:`InvalidInput` for one that does not parse
    or names an unknown record property."""
    parsed = parse_filter(expression)
    check_filter_fields(parsed.fields())
    return parsed.to_text()
