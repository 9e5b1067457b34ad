"""Where a do-not-call number came from (no database)."""

from __future__ import annotations

from callhopper.domain.dnc import CAMPAIGN_SOURCES, DncSource


def test_agents_add_numbers_to_their_campaign_s_own_list_by_decline_or_wrap_up() -> None:
    assert {DncSource.DECLINE, DncSource.WRAPUP} == CAMPAIGN_SOURCES
    assert "wrapup" in CAMPAIGN_SOURCES  # as stored
    assert not DncSource.IMPORT.by_agent
    assert not DncSource.API.by_agent
