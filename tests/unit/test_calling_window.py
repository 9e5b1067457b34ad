"""Calling windows in the contact's own zone; their open zones worked out once per minute,
whoever asks at the same time (no database)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from callhopper.domain import calling_window
from callhopper.domain.calling_window import CallingWindow


def test_a_new_minute_is_worked_out_once_when_many_threads_ask_at_once() -> None:
    window = CallingWindow(start="09:00", end="21:00")
    now = datetime(2031, 3, 4, 17, 30, 15, tzinfo=UTC)  # a minute no other test asks about
    before = calling_window._open_zones.cache_info().misses
    start = threading.Barrier(50)
    answers: list[frozenset[str]] = []

    def ask() -> None:
        start.wait()
        answers.append(window.open_zones(now))

    threads = [threading.Thread(target=ask) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calling_window._open_zones.cache_info().misses == before + 1
    assert len(answers) == 50 and len(set(answers)) == 1
    (zones,) = set(answers)
    # The same as checking each zone by itself: New York (12:30) open, Tokyo (02:30) closed.
    assert "America/New_York" in zones and "Asia/Tokyo" not in zones
    assert zones == {z for z in zones if window.is_open(now, z)}


def test_a_window_is_minutes_of_the_day_on_some_weekdays() -> None:
    window = CallingWindow(start="08:00", end="24:00", days=(5, 0, 0))
    assert window.days == (0, 5)
    assert window.describe() == "08:00 to 24:00 local time, Mon, Sat"
    assert CallingWindow().describe() == "08:00 to 21:00 local time, every day"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start": "8:00"}, "is not a time of day"),
        ({"start": "08:00\n"}, "is not a time of day"),
        ({"end": "24:01"}, "is not a time of day"),
        ({"start": "24:00", "end": "08:00"}, "cannot start at 24:00"),
        ({"start": "09:00", "end": "09:00"}, "cannot start and end at the same time"),
        ({"days": ()}, "needs at least one day"),
        ({"days": (7,)}, "days are 0"),
    ],
)
def test_a_window_that_is_not_one_is_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CallingWindow.model_validate(fields)


# 2026-03-02 is a Monday.
@pytest.mark.parametrize(
    ("local", "open_"),
    [
        ("2026-03-02T07:59", False),
        ("2026-03-02T08:00", True),
        ("2026-03-02T20:59", True),
        ("2026-03-02T21:00", False),
        ("2026-03-01T12:00", False),  # Sunday
    ],
)
def test_a_window_is_open_from_its_start_to_just_before_its_end(local: str, open_: bool) -> None:
    window = CallingWindow(start="08:00", end="21:00", days=(0, 1, 2, 3, 4, 5))
    zone = ZoneInfo("America/New_York")
    assert window.is_open_at(datetime.fromisoformat(local).replace(tzinfo=zone)) is open_


@pytest.mark.parametrize(
    ("local", "open_"),
    [
        ("2026-03-06T23:00", True),  # Friday night
        ("2026-03-07T01:59", True),  # … until 02:00 on Saturday: Friday's window
        ("2026-03-07T02:00", False),
        ("2026-03-07T23:00", False),  # Saturday's window does not exist
        ("2026-03-08T01:00", False),
        ("2026-03-02T01:00", False),  # Monday early: Sunday has no window
    ],
)
def test_an_overnight_window_belongs_to_the_day_it_starts(local: str, open_: bool) -> None:
    window = CallingWindow(start="22:00", end="02:00", days=(0, 1, 2, 3, 4))
    zone = ZoneInfo("Europe/Paris")
    assert window.is_open_at(datetime.fromisoformat(local).replace(tzinfo=zone)) is open_


def test_the_window_is_read_in_the_contact_s_zone() -> None:
    window = CallingWindow(start="09:00", end="21:00")
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 in New York, 00:00 in Tokyo
    assert window.is_open(now, "America/New_York")
    assert not window.is_open(now, "Asia/Tokyo")


def test_the_next_opening_is_now_when_open_else_the_next_start_on_a_window_day() -> None:
    window = CallingWindow(start="09:00", end="17:00", days=(0, 1, 2, 3, 4))
    monday_noon = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 12:00 in New York
    assert window.next_open(monday_noon, "America/New_York") == monday_noon
    friday_evening = datetime(2026, 3, 6, 23, 0, tzinfo=UTC)  # 18:00 in New York
    opens = window.next_open(friday_evening, "America/New_York")
    assert opens == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # Monday 09:00 (EDT from Sunday)
    assert opens is not None and opens.tzinfo is UTC


@given(
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
    ),
    st.sampled_from(["America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"]),
)
def test_the_next_opening_is_open_and_nothing_before_it_is(now: datetime, zone: str) -> None:
    window = CallingWindow(start="22:30", end="06:15", days=(2, 6))
    opens = window.next_open(now, zone)
    assert opens is not None and opens >= now
    assert window.is_open(opens, zone)
    minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while minute < opens:
        assert not window.is_open(minute, zone)
        minute += timedelta(minutes=15)
