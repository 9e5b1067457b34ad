"""The wrap-up port: sets of wrap-up codes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from callhopper.domain.wrapup import WrapupCodeSpec, WrapupSet


class WrapupStore(Protocol):
    def code_set(self, set_id: int) -> WrapupSet | None: ...

    def code_sets(self) -> list[WrapupSet]:
        """Every set, by id."""
        ...

    def set_named(self, name: str) -> int | None:
        """The id of the set with this name."""
        ...

    def add_set(
        self, *, name: str, description: str, codes: Sequence[WrapupCodeSpec], now: datetime
    ) -> WrapupSet: ...

    def change_set(
        self,
        set_id: int,
        *,
        name: str | None,
        description: str | None,
        codes: Sequence[WrapupCodeSpec] | None,
    ) -> WrapupSet:
        """Set the fields given (``None`` keeps one as it is). New codes replace the set's,
        a code that stays (by its ``code``) keeping its id."""
        ...

    def delete_set(self, set_id: int) -> None: ...

    def campaigns_using(self, set_id: int) -> list[str]:
        """The names of the campaigns whose agents use the set."""
        ...
