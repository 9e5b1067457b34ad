"""The states of a record and of what happens to it, as stored (no database)."""

from __future__ import annotations

from callhopper.domain.predial import CloseReason
from callhopper.domain.records import (
    DELIVERABLE_STATUSES,
    OPEN_CALLBACK_STATUSES,
    OWNER_ACTION,
    AssignmentOutcome,
    CallbackStatus,
    DeclineAction,
    RecordStatus,
)


def test_a_stored_status_and_its_member_are_the_same() -> None:
    assert RecordStatus("leased") is RecordStatus.LEASED
    assert {RecordStatus.LEASED} == {"leased"}
    assert {"ready", "leased"} == DELIVERABLE_STATUSES
    assert f"{RecordStatus.WAITING}" == "waiting"  # as written into SQL text


def test_records_waiting_to_be_delivered_are_ready_or_leased() -> None:
    assert [s for s in RecordStatus if s in DELIVERABLE_STATUSES] == [
        RecordStatus.READY,
        RecordStatus.LEASED,
    ]


def test_an_open_callback_is_still_to_happen() -> None:
    assert [s for s in CallbackStatus if s in OPEN_CALLBACK_STATUSES] == [
        CallbackStatus.SCHEDULED,
        CallbackStatus.DELIVERED,
    ]


def test_a_delivery_ends_as_a_decline_or_a_pre_dial_closure_says() -> None:
    """The outcome of a declined record is the decline's action, that of a record closed
    before dialling the reason it was closed: one value each, whoever writes it."""
    outcomes = {o.value for o in AssignmentOutcome}
    assert {a.value for a in DeclineAction} <= outcomes
    assert {r.value for r in CloseReason} <= outcomes
    assert AssignmentOutcome(DeclineAction.DO_NOT_CALL) is AssignmentOutcome.DO_NOT_CALL
    assert len(outcomes) == len(AssignmentOutcome)


def test_owner_changes_are_audited_under_one_action() -> None:
    assert OWNER_ACTION == "record.owner"
