"""The states of a record in a campaign, and of the things that happen to it.

The values are the ones stored in the database; the enums are ``StrEnum`` so that a stored
value and its member compare equal.
"""

from __future__ import annotations

from enum import StrEnum

from callhopper.domain.predial import CloseReason


class RecordStatus(StrEnum):
    """Where a record stands in one campaign's pass over its list."""

    #: May be delivered (or dialled) now, subject to owner, window and campaign ownership.
    READY = "ready"
    #: Delivered to one agent, who holds it until Done or until the lease expires.
    LEASED = "leased"
    #: Handled in this pass; may come back at ``retry_at`` (a retry delay or a callback).
    WAITING = "waiting"
    #: Done for this campaign (a final wrap-up code, do not call, or closed before dialling).
    FINAL = "final"
    #: Cannot be delivered: its owner value names nobody who may take it (the error monitor).
    ERROR = "error"
    #: Owned by another campaign sharing the list, until ``blocked_until``.
    BLOCKED = "blocked"


#: Statuses in which a record waits to be delivered in the current pass.
DELIVERABLE_STATUSES = frozenset({RecordStatus.READY, RecordStatus.LEASED})


class DeclineAction(StrEnum):
    """What an agent's Decline does to a delivered record."""

    #: Back to the end of the list, for a later call.
    CALL_LATER = "call_later"
    #: Out of the campaign; its number goes onto the campaign's own do-not-call list.
    DO_NOT_CALL = "do_not_call"


class AssignmentOutcome(StrEnum):
    """How one delivery of a record to an agent ended (``assignment_history.outcome``)."""

    #: The agent finished it with a wrap-up (Done).
    DONE = "done"
    SKIPPED = "skipped"
    CALL_LATER = DeclineAction.CALL_LATER.value
    DO_NOT_CALL = DeclineAction.DO_NOT_CALL.value
    #: The lease ran out without activity.
    EXPIRED = "expired"
    #: The agent logged out of the campaign with the record.
    LOGOUT = "logout"
    #: A recycle started the next pass while the record was out.
    RECYCLED = "recycled"
    #: The lead got another owner while its former owner had it.
    OWNER_CHANGED = "owner_changed"
    #: The agent rejected a pushed record.
    REJECTED = "rejected"
    #: A pushed record was not accepted in time.
    ACCEPT_TIMEOUT = "accept_timeout"
    #: Closed before dialling: every number is on a do-not-call list.
    DNC = CloseReason.DNC.value
    #: Closed before dialling: a number could not be validated, and none was allowed.
    NOT_VALIDATED = CloseReason.NOT_VALIDATED.value


class CallbackKind(StrEnum):
    """Who a scheduled callback goes to."""

    PERSONAL = "personal"
    ANY = "any"


class CallbackStatus(StrEnum):
    """Where a scheduled callback stands: due later, delivered to an agent, done, or
    cancelled."""

    SCHEDULED = "scheduled"
    DELIVERED = "delivered"
    DONE = "done"
    CANCELLED = "cancelled"


#: A callback that is still to happen (at most one per record and campaign).
OPEN_CALLBACK_STATUSES = frozenset({CallbackStatus.SCHEDULED, CallbackStatus.DELIVERED})


class InteractionKind(StrEnum):
    """One line of a contact's history."""

    CALL = "call"
    WRAPUP = "wrapup"
    DECLINE = "decline"


class WebhookStatus(StrEnum):
    """A workflow webhook in the outbox: waiting for (another) attempt, sent, or given up."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


#: The audit action of every change of a lead's owner (one action, whoever makes it).
OWNER_ACTION = "record.owner"
