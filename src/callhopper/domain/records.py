"""The states of a record in a campaign, and of the things that happen to it.

The values are the ones stored in the database; the enums are ``StrEnum`` so that a stored
value and its member compare equal.
"""

from __future__ import annotations

from enum import StrEnum


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


class CallbackKind(StrEnum):
    """Who a scheduled callback goes to."""

    PERSONAL = "personal"
    ANY = "any"


class CallbackStatus(StrEnum):
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
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


#: The audit action of every change of a lead's owner (one action, whoever makes it).
OWNER_ACTION = "record.owner"
