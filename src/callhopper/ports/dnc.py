"""The do-not-call port: lists, their numbers, and the lists each campaign checks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from callhopper.domain.actors import Actor
from callhopper.domain.dnc import DncList, DncNumber, DncSource


class DncStore(Protocol):
    def dnc_list(self, list_id: int) -> DncList | None: ...

    def dnc_lists(self) -> list[DncList]:
        """Every list, by id."""
        ...

    def list_named(self, name: str) -> int | None:
        """The id of the list with this name."""
        ...

    def add_list(self, *, name: str, description: str, now: datetime) -> DncList: ...

    def change_list(self, list_id: int, *, name: str | None, description: str | None) -> DncList:
        """Set the fields given (``None`` keeps one as it is)."""
        ...

    def delete_list(self, list_id: int) -> None:
        """Delete a list and its numbers."""
        ...

    def number_counts(self, list_ids: Sequence[int]) -> dict[int, int]:
        """How many numbers each of the lists holds (every id is in the answer)."""
        ...

    def attachments(self, list_ids: Sequence[int]) -> dict[int, list[int]]:
        """The campaigns that check each of the lists, by id (every id is in the answer)."""
        ...

    def campaign_names(self, campaign_ids: Sequence[int]) -> dict[int, str]:
        """The names of the campaigns that exist among these, in id order."""
        ...

    def insert_numbers(
        self, list_id: int, numbers: Sequence[str], source: DncSource, now: datetime
    ) -> set[str]:
        """Add the E.164 numbers not in the list yet (also not added meanwhile by a
        concurrent transaction); returns those added."""
        ...

    def delete_numbers(self, list_id: int, numbers: Sequence[str]) -> set[str]:
        """Remove E.164 numbers from the list; returns those that were in it."""
        ...

    def numbers(self, list_id: int, *, after: str | None, limit: int) -> list[DncNumber]:
        """Up to ``limit`` of the list's numbers in E.164 order, from just after ``after``."""
        ...

    def campaign_lists(self, campaign_id: int) -> list[DncList]:
        """The lists a campaign checks, by id."""
        ...

    def own_list(self, campaign_id: int) -> DncList | None:
        """The campaign's own list, once it has one."""
        ...

    def attach(self, campaign_id: int, list_id: int) -> bool:
        """Make the campaign check the list; false when it already did (also when a
        concurrent transaction attached it meanwhile)."""
        ...

    def detach(self, campaign_id: int, list_ids: Sequence[int]) -> set[int]:
        """Stop the campaign checking these lists; returns those it checked."""
        ...

    def lists_with_number(self, number: str, campaign_id: int | None) -> list[DncList]:
        """The lists that hold an E.164 number, by id: among those the campaign checks, or
        all of them."""
        ...

    def blocked_numbers(self, campaign_id: int, numbers: Sequence[str]) -> set[str]:
        """The numbers (E.164) that are on any list the campaign checks: one statement per
        500 numbers, served by the index of the numbers (a record's numbers are a handful)."""
        ...

    def add_to_campaign_list(
        self,
        actor: Actor,
        campaign_id: int,
        numbers: Sequence[str],
        source: DncSource,
        now: datetime,
    ) -> list[str]:
        """Put E.164 numbers on the campaign's own list (created and attached on first use,
        safely when transactions race to), as an agent's decline or wrap-up; audited. Returns
        the numbers newly added."""
        ...
