"""Who is acting: a user with the rights of their role, or the system (no database)."""

from __future__ import annotations

import pytest

from callhopper.domain.actors import SYSTEM, Actor, TokenKind
from callhopper.domain.errors import PermissionDenied
from callhopper.domain.rights import Right


def agent(*rights: Right) -> Actor:
    return Actor(
        id=7,
        user_id="alice",
        email="alice@example.com",
        display_name="Alice",
        role="custom",
        rights=frozenset(rights),
    )


def test_an_actor_acts_only_with_the_rights_they_hold() -> None:
    alice = agent(Right.AGENT_WORK)
    assert alice.can(Right.AGENT_WORK)
    assert not alice.can(Right.CAMPAIGN_MANAGE)
    alice.require(Right.AGENT_WORK)
    with pytest.raises(PermissionDenied, match=r"this needs the right 'campaign\.manage'") as err:
        alice.require(Right.CAMPAIGN_MANAGE)
    assert err.value.details == {"right": "campaign.manage"}


def test_the_system_holds_every_right() -> None:
    assert SYSTEM.id is None
    assert all(SYSTEM.can(r) for r in Right)


def test_credentials_are_sessions_or_api_tokens() -> None:
    assert [k.value for k in TokenKind] == ["session", "api"]
