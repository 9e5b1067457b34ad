"""Agent-owned records: who an owner value names, or why it names nobody (no database)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callhopper.domain.ownership import (
    Agent,
    OwnerDirectory,
    OwnerError,
    OwnerKind,
    OwnerOrder,
    Resolution,
)

ALICE = Agent(id=1, user_id="alice", email_key="alice@example.com", active=True)
BOB = Agent(id=2, user_id="bob", email_key="bob@example.com", active=True)
GONE = Agent(id=3, user_id="gone", email_key="gone@example.com", active=False)
OUTSIDE = Agent(id=4, user_id="outside", email_key="outside@example.com", active=True)

DIRECTORY = OwnerDirectory([ALICE, BOB, GONE, OUTSIDE], queue_members=[1, 2, 3])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("alice@example.com", Resolution(1, OwnerKind.EMAIL, None)),
        ("bob", Resolution(2, OwnerKind.USER_ID, None)),
        ("  bob  ", Resolution(2, OwnerKind.USER_ID, None)),
        (None, Resolution(None, None, OwnerError.MISSING_VALUE)),
        ("   ", Resolution(None, None, OwnerError.MISSING_VALUE)),
        ("nobody@example.com", Resolution(None, OwnerKind.EMAIL, OwnerError.INVALID_EMAIL)),
        ("nobody", Resolution(None, OwnerKind.USER_ID, OwnerError.UNKNOWN_USER_ID)),
        # The agent is named, and kept, even when the record cannot go to them.
        ("gone@example.com", Resolution(3, OwnerKind.EMAIL, OwnerError.INACTIVE_USER)),
        ("outside", Resolution(4, OwnerKind.USER_ID, OwnerError.NOT_IN_QUEUE)),
    ],
)
def test_an_owner_value_resolves_to_an_agent_or_a_reason(
    value: str | None, expected: Resolution
) -> None:
    resolution = DIRECTORY.resolve(value)
    assert resolution == expected
    assert resolution.deliverable is (expected.error is None)


def test_an_inactive_user_outside_the_queue_is_reported_as_inactive() -> None:
    directory = OwnerDirectory([GONE], queue_members=[])
    assert directory.resolve("gone").error is OwnerError.INACTIVE_USER


def test_the_queue_snapshot_decides_who_is_in_the_queue() -> None:
    assert OwnerDirectory([ALICE], queue_members=[]).resolve("alice").error is (
        OwnerError.NOT_IN_QUEUE
    )
    assert OwnerDirectory([ALICE], queue_members=[1]).resolve("alice").deliverable


def test_an_unknown_email_is_invalid_even_when_its_name_is_a_user_id() -> None:
    assert DIRECTORY.resolve("alice@elsewhere.example").error is OwnerError.INVALID_EMAIL


@given(
    flips=st.lists(st.booleans(), min_size=len(ALICE.email_key), max_size=len(ALICE.email_key)),
    before=st.sampled_from(["", " ", "\t"]),
    after=st.sampled_from(["", " ", "\n"]),
)
def test_emails_match_in_any_case(flips: list[bool], before: str, after: str) -> None:
    written = "".join(
        c.upper() if flip else c for c, flip in zip(ALICE.email_key, flips, strict=True)
    )
    assert DIRECTORY.resolve(before + written + after) == Resolution(1, OwnerKind.EMAIL, None)


@given(user_id=st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,20}\Z"))
def test_any_user_id_of_an_agent_in_the_queue_resolves_to_them(user_id: str) -> None:
    agent = Agent(id=9, user_id=user_id, email_key=f"{user_id.lower()}@example.com", active=True)
    assert OwnerDirectory([agent], queue_members=[9]).resolve(user_id) == Resolution(
        9, OwnerKind.USER_ID, None
    )


def test_the_owner_order_says_which_kind_is_queued_first() -> None:
    assert OwnerOrder.EMAIL_FIRST.first() is OwnerKind.EMAIL
    assert OwnerOrder.USER_ID_FIRST.first() is OwnerKind.USER_ID
