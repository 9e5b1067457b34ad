"""A calling window's open zones: worked out once per minute, whoever asks at the same time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

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
