"""`callhopper serve` leaves its start-up objects out of the cycle collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from callhopper.cli import GC_THRESHOLDS, tune_collector


@pytest.fixture
def collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("collector")
def test_start_up_objects_are_frozen_and_young_ones_collected_less_often() -> None:
    start_up: list[object] = []  # a container: the collector tracks it
    gc.unfreeze()
    tune_collector()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() > 0
    # The collector no longer walks it (get_objects leaves the permanent generation out).
    assert not any(o is start_up for o in gc.get_objects())
    later = [start_up]  # a container made after start-up is tracked again
    assert any(o is later for o in gc.get_objects())
