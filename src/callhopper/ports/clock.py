"""The clock port: every service reads the time here, never from the system directly."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """The current time, always an aware UTC datetime."""

    def now(self) -> datetime: ...
