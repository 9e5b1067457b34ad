"""The webhook outbox: messages that workflow rules queue, and their delivery.

A message is queued in the transaction of the change it reports and delivered afterwards,
at least once: a sender claims due messages for a while (a lease), POSTs them, and records
each result (``sent``, another attempt later, or ``failed`` after the last attempt).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callhopper.domain.records import WebhookStatus


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
