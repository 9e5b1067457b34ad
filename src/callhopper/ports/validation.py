"""The pre-dial validation port: an external service that says whether a number may be
dialled (its HTTP adapter is :mod:`callhopper.dnc_service`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from callhopper.domain.predial import Verdict


class NumberValidator(Protocol):
    """Tells, for each number, whether it may be dialled. Must not raise."""

    #: Whether :meth:`check` answers from within the process (no service configured):
    #: then Call asks it inside its transaction, instead of in a read before it.
    local: bool

    def check(self, numbers: Sequence[str]) -> dict[str, Verdict]:
        """A verdict for every number given (``unavailable`` when it cannot tell)."""
        ...
