"""The calls port: the calls of automatic campaigns, as the dialing engine records them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from callhopper.domain.dialer import AbandonDay, CallResult


@dataclass(frozen=True, slots=True)
class PlacedCall:
    """A call as stored."""

    id: str
    campaign_id: int
    record_id: int
    number: str
    caller_id: str
    engine: str
    agent_id: int | None
    placed_at: datetime
    ring_timeout_s: int
    answered_at: datetime | None = None
    answered_by: str | None = None
    connected_at: datetime | None = None
    ended_at: datetime | None = None
    result: CallResult | None = None
    code: str | None = None
    message_played: bool = False


class Calls(Protocol):
    """Calls of one transaction."""

    def add(self, call: PlacedCall) -> None:
        """A call placed (no result yet)."""
        ...

    def answered(self, call_id: str, at: datetime, by: str) -> None: ...

    def connected(self, call_id: str, agent_id: int, at: datetime) -> None:
        """Bridged to ``agent_id``: its result is ``connected``."""
        ...

    def not_connected(self, call_id: str, dialled_for: int | None, *, message_played: bool) -> None:
        """Handed to an agent whose line did not take it (or the contact hung up first):
        not connected after all. Its result is ``abandoned``; its agent is again the one it
        was dialled for (``None``: the dialer's call)."""
        ...

    def finish(
        self,
        call_id: str,
        result: CallResult,
        at: datetime,
        *,
        code: str | None = None,
        message_played: bool = False,
    ) -> None:
        """The call's result (it ended, or it will end without an agent)."""
        ...

    def ended(self, call_id: str, at: datetime) -> None:
        """The line was hung up (after the result)."""
        ...

    def get(self, call_id: str) -> PlacedCall | None: ...

    def connected_to(self, campaign_id: int, record_id: int, agent_id: int) -> PlacedCall | None:
        """The newest call of the record connected to the agent in the campaign."""
        ...

    def open_calls(self, campaign_id: int) -> list[PlacedCall]:
        """The campaign's calls without a result, oldest first."""
        ...

    def of_record(self, record_id: int) -> list[PlacedCall]:
        """Every call of a record, newest first."""
        ...

    def abandon_days(self, campaign_id: int, first: date, last: date, tz: str) -> list[AbandonDay]:
        """Per day (in time zone ``tz``) from ``first`` to ``last``: calls answered by a
        person and calls abandoned. Days without such calls are left out."""
        ...
