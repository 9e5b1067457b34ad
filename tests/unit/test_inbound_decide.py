"""Where an inbound call goes (domain.inbound), without a database."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from callhopper.domain.errors import InvalidInput
from callhopper.domain.inbound import (
    InboundRoute,
    Lead,
    RoutingKind,
    RoutingReason,
    caller_number,
    canonical_fallback,
    decide,
)

ROUTE = InboundRoute(
    1, "+16025550100", "Main", False, "voicemail", datetime(2026, 1, 1, tzinfo=UTC)
)
CALLED, CALLER = "+16025550100", "+16025550199"


def lead(record_id: int, owner: str | None, *, active: bool = True, on: bool = False) -> Lead:
    owner_id = None if owner is None else record_id * 10
    return Lead(record_id, owner_id, owner, active, on)


def test_an_available_owner_takes_the_call_before_any_other_lead() -> None:
    leads = [lead(1, "bob"), lead(2, None), lead(3, "ann", on=True)]
    decision = decide(ROUTE, CALLED, CALLER, leads)
    assert (decision.kind, decision.destination, decision.reason) == (
        RoutingKind.OWNER,
        "agent:ann",
        RoutingReason.OWNER_AVAILABLE,
    )
    assert (decision.record_id, decision.owner_user_id, decision.route_id) == (3, "ann", 1)


def test_a_logged_out_owner_is_replaced_only_when_the_route_says_so() -> None:
    leads = [lead(1, "bob"), lead(2, "ann")]
    kept = decide(ROUTE, CALLED, CALLER, leads)
    assert (kept.kind, kept.destination, kept.record_id) == (RoutingKind.FALLBACK, "voicemail", 1)
    assert kept.reason is RoutingReason.OWNER_UNAVAILABLE
    open_route = dataclasses.replace(ROUTE, route_unavailable_agents=True, fallback="queue:4")
    replaced = decide(open_route, CALLED, CALLER, leads)
    assert (replaced.kind, replaced.destination) == (RoutingKind.ANY_AGENT, "queue:4")


def test_deactivated_owners_no_owner_and_unknown_callers_go_to_the_fallback() -> None:
    gone = decide(ROUTE, CALLED, CALLER, [lead(1, None), lead(2, "ann", active=False, on=True)])
    assert (gone.reason, gone.record_id, gone.owner_user_id) == (
        RoutingReason.OWNER_DEACTIVATED,
        2,
        "ann",
    )
    pool = decide(ROUTE, CALLED, CALLER, [lead(5, None), lead(6, None)])
    assert (pool.reason, pool.record_id, pool.owner_user_id) == (RoutingReason.NO_OWNER, 5, None)
    unknown = decide(ROUTE, CALLED, None, [])
    assert (unknown.kind, unknown.reason, unknown.caller) == (
        RoutingKind.FALLBACK,
        RoutingReason.UNKNOWN_CALLER,
        None,
    )


def test_fallbacks_in_canonical_form() -> None:
    assert canonical_fallback(" voicemail ", "US") == ("voicemail", None)
    assert canonical_fallback("queue:12", "US") == ("queue:12", 12)
    assert canonical_fallback("number:(602) 555-0123", "US") == ("number:+16025550123", None)
    for bad in ("queue:0", "queue:x", "agent:ann", "number:12"):
        with pytest.raises(InvalidInput) as error:
            canonical_fallback(bad, "US")
        assert error.value.details == {"field": "fallback"}


def test_a_caller_number_that_cannot_be_read_is_an_unknown_caller() -> None:
    assert caller_number("anonymous", "US") is None
    assert caller_number("602-555-0199", "US") == CALLER
