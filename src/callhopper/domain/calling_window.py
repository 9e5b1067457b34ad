"""Calling windows, evaluated in the contact's own time zone: no record is delivered or
dialled outside its campaign's window in the contact's zone.

A window is a local start and end time and the local weekdays it applies on,
e.g. 08:00-21:00 Monday to Saturday. ``end`` may be ``24:00``; a window whose
end is before its start runs overnight (22:00-02:00) and belongs to the day it
starts on. Windows are minute-granular and every zone offset is a whole number
of minutes, so the set of open zones cannot change within a UTC minute: it is
computed once per minute and cached.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from callhopper.domain.timezones import available_zones

#: A time of day as ``HH:MM`` (the whole text), or the end of the day.
_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]|24:00")
ALL_DAYS = (0, 1, 2, 3, 4, 5, 6)


_MAX_TIME_TEXT = 16


class CallingWindow(BaseModel):
    """Local hours (``HH:MM``) and ISO weekdays (0 = Monday) when contacts may be called."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # HH:MM, checked below; the bound only keeps a long text from being read at all.
    start: str = Field("08:00", max_length=_MAX_TIME_TEXT)
    end: str = Field("21:00", max_length=_MAX_TIME_TEXT)
    days: tuple[int, ...] = Field(ALL_DAYS, description="0 = Monday … 6 = Sunday")

    @field_validator("start", "end")
    @classmethod
    def _check_time(cls, value: str) -> str:
        if not _HHMM.fullmatch(value):
            raise ValueError(f"{value!r} is not a time of day as HH:MM (00:00 to 24:00)")
        return value

    @field_validator("days")
    @classmethod
    def _check_days(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("a calling window needs at least one day")
        if any(d not in ALL_DAYS for d in value):
            raise ValueError("days are 0 (Monday) to 6 (Sunday)")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _check_span(self) -> CallingWindow:
        if self.start == self.end:
            raise ValueError("a calling window cannot start and end at the same time")
        if self.start == "24:00":
            raise ValueError("a calling window cannot start at 24:00")
        return self

    @property
    def _start_minute(self) -> int:
        return _minutes(self.start)

    @property
    def _end_minute(self) -> int:
        return _minutes(self.end)

    def is_open_at(self, local: datetime) -> bool:
        """Whether the window is open at a local (zone-aware) time."""
        minute = local.hour * 60 + local.minute
        start, end = self._start_minute, self._end_minute
        weekday = local.weekday()
        if start < end:
            return weekday in self.days and start <= minute < end
        # Overnight: the tail after midnight belongs to the previous day's window.
        if minute >= start:
            return weekday in self.days
        return minute < end and (weekday - 1) % 7 in self.days

    def is_open(self, now: datetime, zone: str) -> bool:
        """Whether a contact in ``zone`` may be called at the UTC instant ``now``."""
        return self.is_open_at(now.astimezone(_zone(zone)))

    def open_zones(self, now: datetime) -> frozenset[str]:
        """Every IANA zone in which the window is open at ``now`` (cached per minute).

        One thread works a new minute out while the others wait for it: at each minute every
        claim of every agent asks, and several hundred threads each checking every zone at
        once took seconds."""
        with _OPEN_ZONES_TURN:
            return _open_zones(self, now.replace(second=0, microsecond=0))

    def next_open(self, now: datetime, zone: str) -> datetime | None:
        """The first instant at or after ``now`` when the window opens in ``zone``."""
        if self.is_open(now, zone):
            return now
        local = now.astimezone(ZoneInfo(zone))
        for day in range(8):
            date = (local + timedelta(days=day)).date()
            if date.weekday() not in self.days:
                continue
            start = self._start_minute
            candidate = datetime.combine(date, time(start // 60, start % 60), tzinfo=ZoneInfo(zone))
            if candidate >= local and self.is_open_at(candidate):
                return candidate.astimezone(now.tzinfo)
        return None

    def describe(self) -> str:
        names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
        days = "every day" if self.days == ALL_DAYS else ", ".join(names[d] for d in self.days)
        return f"{self.start} to {self.end} local time, {days}"


_OPEN_ZONES_TURN = threading.Lock()


@cache
def _zone(key: str) -> ZoneInfo:
    """A zone, kept: ``ZoneInfo``'s own cache keeps only a few alive, and the others were
    read from their files again at each look (every zone, every minute)."""
    return ZoneInfo(key)


@lru_cache(maxsize=256)
def _open_zones(window: CallingWindow, minute: datetime) -> frozenset[str]:
    return frozenset(z for z in available_zones() if window.is_open(minute, z))


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)
