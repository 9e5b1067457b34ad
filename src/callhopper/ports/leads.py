"""The lead store: what the lead API reads besides the lists (numbers already stored)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class LeadStore(Protocol):
    def stored_numbers(self, list_id: int, numbers: Sequence[str]) -> dict[str, int]:
        """Those of the numbers (E.164) that records of the list have, each with the first
        such record."""
        ...
