"""The webhook outbox: messages that workflow rules queue, and their delivery.

A message is queued in the transaction of the change it reports and delivered afterwards,
at least once: a sender claims due messages for a while (a lease), POSTs them, and records
each result (``sent``, another attempt later, or ``failed`` after the last attempt).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from callhopper.domain.records import WebhookStatus


class WebhookStage(StrEnum):
    """Where a message is in its delivery, as people read it."""

    #: Queued, not tried yet.
    PENDING = "pending"
    #: Tried and failed (or retried by hand after failing): another attempt is due.
    RETRYING = "retrying"
    #: Delivered: the receiver answered with a success.
    DELIVERED = "delivered"
    #: Every attempt failed (or its rule was deleted): nothing more happens unless retried.
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class WebhookMessage:
    """A message of the outbox; ``rule_id`` is ``None`` once its rule was deleted."""

    id: int
    rule_id: int | None
    url: str
    status: WebhookStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    payload: dict[str, Any]

    @property
    def stage(self) -> WebhookStage:
        if self.status is WebhookStatus.SENT:
            return WebhookStage.DELIVERED
        if self.status is WebhookStatus.FAILED:
            return WebhookStage.FAILED
        if self.attempts or self.last_error:
            return WebhookStage.RETRYING
        return WebhookStage.PENDING


@dataclass(frozen=True, slots=True)
class ClaimedWebhook:
    """A message a sender holds until ``lease_until``, with the secret to sign it with."""

    id: int
    rule_id: int | None
    url: str
    payload: dict[str, Any]
    attempts: int
    secret: str | None
    lease_until: datetime
