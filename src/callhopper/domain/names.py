"""Names of things people create (campaigns, lists, queues, rules …): one rule for all."""

from __future__ import annotations

from callhopper.domain.errors import InvalidInput
from callhopper.domain.limits import MAX_NAME_LENGTH

__all__ = ["MAX_NAME_LENGTH", "check_name"]


def check_name(value: str) -> str:
    """A name stripped of surrounding space; :class:`InvalidInput` when that leaves nothing
    or more than :data:`MAX_NAME_LENGTH` characters."""
    value = value.strip()
    if not value:
        raise InvalidInput("the name is empty", field="name")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidInput(f"the name is longer than {MAX_NAME_LENGTH} characters", field="name")
    return value
