"""The workflow ports: rules (:class:`WorkflowStore`), and the webhook outbox their actions
fill (:class:`WebhookOutbox`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from callhopper.domain.actors import Actor
from callhopper.domain.records import WebhookStatus
from callhopper.domain.webhooks import ClaimedWebhook, WebhookMessage, WebhookStage
from callhopper.domain.workflows import FiredAction, Trigger, WorkflowRule


class WorkflowStore(Protocol):
    def rule(self, rule_id: int) -> WorkflowRule | None: ...

    def rules(self) -> list[WorkflowRule]:
        """Every rule, in creation order."""
        ...

    def rule_named(self, name: str) -> int | None:
        """The id of the rule with this name."""
        ...

    def add_rule(
        self,
        *,
        name: str,
        enabled: bool,
        trigger: Trigger,
        actions: Sequence[dict[str, Any]],
        secret: str,
        now: datetime,
    ) -> WorkflowRule: ...

    def change_rule(
        self,
        rule_id: int,
        *,
        name: str,
        enabled: bool,
        trigger: Trigger,
        actions: Sequence[dict[str, Any]],
        now: datetime,
    ) -> WorkflowRule:
        """Replace the rule's settings (its secret stays); ``now`` is its new
        ``updated_at``."""
        ...

    def set_secret(self, rule_id: int, secret: str, *, now: datetime) -> WorkflowRule: ...

    def delete_rule(self, rule_id: int) -> None: ...

    def existing_campaigns(self, campaign_ids: Sequence[int]) -> set[int]:
        """Those of the campaigns that exist."""
        ...

    def known_codes(self, campaign_ids: Sequence[int]) -> set[str]:
        """The wrap-up codes of the campaigns' code sets (none given: of every set)."""
        ...

    def fire(
        self,
        actor: Actor,
        *,
        campaign_id: int,
        campaign_name: str,
        record_id: int,
        code: str,
        agent_id: int,
        agent_user_id: str,
        owner_action: str | None = None,
        now: datetime,
    ) -> list[FiredAction]:
        """Run every enabled rule matching this wrap-up, in rule order, each rule's actions
        in order, in this transaction (the agent's Done); owner and field changes audited
        with ``actor``, webhooks queued. ``owner_action`` is the wrap-up code's own."""
        ...


class WebhookOutbox(Protocol):
    def message(self, message_id: int) -> WebhookMessage | None: ...

    def messages(
        self,
        *,
        status: WebhookStatus | None,
        rule_id: int | None,
        before_id: int | None,
        limit: int,
        stage: WebhookStage | None = None,
    ) -> list[WebhookMessage]:
        """Messages, newest first, of a status, stage and rule when given, older than
        ``before_id``."""
        ...

    def fail_pending(self, rule_id: int, error: str) -> int:
        """Mark the rule's messages not sent yet ``failed`` with this error; returns how
        many."""
        ...

    def retry(self, message_id: int, *, now: datetime) -> bool:
        """Put a ``failed`` message back to ``pending``, due ``now``, with no attempts
        counted (its last error stays until the next attempt); false when it was not
        ``failed``."""
        ...

    def claim(self, *, now: datetime, lease_until: datetime, limit: int) -> list[ClaimedWebhook]:
        """Take up to ``limit`` due pending messages, oldest first, in one statement: their
        next attempt moves to ``lease_until``, so that no other sender takes them
        meanwhile (concurrent senders take disjoint batches)."""
        ...

    def sent(self, claimed: ClaimedWebhook, *, now: datetime) -> bool:
        """Record a delivery; false if the lease was lost meanwhile."""
        ...

    def attempt_failed(
        self, claimed: ClaimedWebhook, *, error: str, now: datetime, retry_at: datetime | None
    ) -> bool:
        """Record a failed attempt: due again at ``retry_at``, or ``failed`` for good when
        it is ``None``. False if the lease was lost meanwhile."""
        ...

    def released(self, claimed: ClaimedWebhook, *, now: datetime) -> bool:
        """Give back a claimed message not attempted: due again now, no attempt counted."""
        ...
