"""Campaign ownership of a shared list's records: settings, expiry, renewal and re-dating
after a duration change (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from callhopper.domain.campaign_ownership import (
    RENEWAL_CAP,
    OwnershipAction,
    OwnershipSettings,
    Redated,
    expiry,
    is_active,
    redate,
    renewal_due,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
durations = st.one_of(
    st.none(), st.timedeltas(min_value=timedelta(hours=1), max_value=timedelta(days=3650))
)


def test_enabled_ownership_needs_a_duration_or_no_expiration() -> None:
    with pytest.raises(ValidationError, match="needs a duration"):
        OwnershipSettings(enabled=True)
    assert OwnershipSettings(enabled=True, no_expiration=True).duration is None
    assert OwnershipSettings(enabled=True, days=2, hours=3).duration == timedelta(days=2, hours=3)
    assert OwnershipSettings().describe() == "off"
    assert OwnershipSettings(enabled=True, no_expiration=True).describe() == "on, no expiration"
    assert OwnershipSettings(enabled=True, days=1).describe() == "on, 1 day(s) 0 hour(s)"


def test_an_ownership_without_expiry_stays_active() -> None:
    assert expiry(NOW, None) is None
    assert is_active(NOW + timedelta(days=10_000), None)
    assert is_active(NOW, NOW + timedelta(seconds=1))
    assert not is_active(NOW, NOW)


@pytest.mark.parametrize(
    ("duration", "left", "due"),
    [
        (timedelta(hours=5), timedelta(minutes=30), True),  # 10% of 5 h
        (timedelta(hours=5), timedelta(minutes=31), False),
        (timedelta(days=30), timedelta(hours=1), True),  # capped at an hour
        (timedelta(days=30), timedelta(hours=1, seconds=1), False),
        (timedelta(hours=5), timedelta(0), False),  # over already
        (None, timedelta(minutes=1), False),
    ],
)
def test_a_call_not_completed_renews_an_ownership_close_to_expiry(
    duration: timedelta | None, left: timedelta, due: bool
) -> None:
    expires_at = None if duration is None else NOW + left
    assert renewal_due(NOW, expires_at, duration) is due


@given(now=instants, left=st.timedeltas(min_value=timedelta(0)), duration=durations)
def test_renewal_is_due_within_a_tenth_of_the_duration_or_an_hour(
    now: datetime, left: timedelta, duration: timedelta | None
) -> None:
    try:
        expires_at = now + left
    except OverflowError:
        return
    margin = None if duration is None else min(duration / 10, RENEWAL_CAP)
    due = margin is not None and timedelta(0) < left <= margin
    assert renewal_due(now, expires_at, duration) is due


def test_a_new_duration_redates_an_old_claim_or_ends_it_now() -> None:
    """From no expiration to 3 hours: a claim taken an hour ago expires in 2 hours, one
    taken yesterday ends at once."""
    three_hours = timedelta(hours=3)
    assert redate(NOW - timedelta(hours=1), three_hours, NOW) == Redated(
        NOW + timedelta(hours=2), None
    )
    yesterday = NOW - timedelta(days=1)
    ended = redate(yesterday, three_hours, NOW)
    assert ended == Redated(yesterday + three_hours, NOW)
    assert ended.ends_at == NOW
    assert redate(yesterday, None, NOW) == Redated(None, None)


@given(owned_at=instants, now=instants, duration=durations)
def test_after_a_duration_change_an_ownership_ends_at_owned_at_plus_it_or_now_if_past(
    owned_at: datetime, now: datetime, duration: timedelta | None
) -> None:
    redated = redate(owned_at, duration, now)
    if duration is None:
        assert redated == Redated(None, None)
        assert redated.ends_at is None
        return
    assert redated.expires_at == owned_at + duration
    assert redated.ends_at == max(owned_at + duration, now)
    assert (redated.ended_at is not None) is (owned_at + duration <= now)


def test_the_audit_actions_of_campaign_ownership() -> None:
    """The audit log's campaign-ownership view reads the ``ownership.`` actions and the
    list's settings changes."""
    assert {a.value for a in OwnershipAction} - {OwnershipAction.SETTINGS.value} == {
        "ownership.claim",
        "ownership.expire",
        "ownership.renew",
        "ownership.redate",
        "ownership.release",
    }
    assert OwnershipAction.SETTINGS.value == "contact_list.ownership_settings"
