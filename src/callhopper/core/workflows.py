"""Workflow rules and their webhook outbox, as administrators manage them:
:class:`WorkflowService`. Every change is audited.

The rules *fire* in the transaction of an agent's Done (the dispenser runs them through
:meth:`callhopper.ports.workflows.WorkflowStore.fire`); their webhooks are delivered by
:class:`callhopper.core.webhooks.WebhookSender`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from callhopper.domain.actors import Actor
from callhopper.domain.credentials import new_secret
from callhopper.domain.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from callhopper.domain.records import WebhookStatus
from callhopper.domain.webhooks import WebhookMessage, WebhookStage
from callhopper.domain.workflows import (
    SECRET_PREFIX,
    Trigger,
    WorkflowRule,
    check_actions,
    check_name,
    trigger_shape,
)
from callhopper.ports.clock import Clock
from callhopper.ports.transactions import Transaction, UnitOfWork


class WorkflowService:
    """Workflow rules (each with a webhook signing secret) and the messages they queued."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    # --- rules -----------------------------------------------------------------------------

    def rules(self) -> list[WorkflowRule]:
        """Every rule, in creation order."""
        with self.uow.read() as tx:
            return tx.workflows.rules()

    def rule(self, rule_id: int) -> WorkflowRule:
        with self.uow.read() as tx:
            return _rule(tx, rule_id)

    def create_rule(
        self,
        actor: Actor,
        *,
        name: str,
        trigger: Mapping[str, Any],
        actions: Sequence[Any],
        enabled: bool = True,
    ) -> WorkflowRule:
        """A rule with a fresh signing secret (audited without the secret). Every code of the
        trigger must be a wrap-up code of one of its campaigns (of any set when it names
        none), and every campaign must exist: a typo would make a rule that never fires."""
        now = self.clock.now()
        name = check_name(name)
        with self.uow.write() as tx:
            _name_free(tx, name)
            rule = tx.workflows.add_rule(
                name=name,
                enabled=enabled,
                trigger=_trigger(tx, trigger),
                actions=check_actions(actions),
                secret=new_secret(SECRET_PREFIX),
                now=now,
            )
            tx.audit.add(
                actor,
                "workflow_rule.create",
                "workflow_rule",
                rule.id,
                now=now,
                after=rule.view(),
            )
            return rule

    def update_rule(
        self,
        actor: Actor,
        rule_id: int,
        *,
        name: str | None = None,
        enabled: bool | None = None,
        trigger: Mapping[str, Any] | None = None,
        actions: Sequence[Any] | None = None,
    ) -> WorkflowRule:
        """Change a rule; ``trigger`` and ``actions`` are replaced whole when given."""
        now = self.clock.now()
        with self.uow.write() as tx:
            rule = _rule(tx, rule_id)
            if name is not None:
                name = check_name(name)
                _name_free(tx, name, but=rule.id)
            new_trigger = _trigger(tx, trigger) if trigger is not None else rule.trigger
            new_actions = check_actions(actions) if actions is not None else rule.actions
            new_name = name if name is not None else rule.name
            new_enabled = enabled if enabled is not None else rule.enabled
            changed = (new_name, new_enabled, new_trigger, list(new_actions)) != (
                rule.name,
                rule.enabled,
                rule.trigger,
                list(rule.actions),
            )
            if not changed:
                return rule
            after = tx.workflows.change_rule(
                rule.id,
                name=new_name,
                enabled=new_enabled,
                trigger=new_trigger,
                actions=new_actions,
                now=now,
            )
            tx.audit.add(
                actor,
                "workflow_rule.update",
                "workflow_rule",
                rule.id,
                now=now,
                before=rule.view(),
                after=after.view(),
            )
            return after

    def rotate_secret(self, actor: Actor, rule_id: int) -> WorkflowRule:
        """Give the rule a new signing secret. Messages not sent yet are signed with it."""
        now = self.clock.now()
        with self.uow.write() as tx:
            rule = tx.workflows.set_secret(
                _rule(tx, rule_id).id, new_secret(SECRET_PREFIX), now=now
            )
            tx.audit.add(
                actor,
                "workflow_rule.rotate_secret",
                "workflow_rule",
                rule.id,
                now=now,
                reason="new webhook signing secret",
            )
            return rule

    def delete_rule(self, actor: Actor, rule_id: int) -> int:
        """Delete a rule. Its messages not sent yet can no longer be signed: they are marked
        ``failed`` (and stay listed). Returns how many were."""
        now = self.clock.now()
        with self.uow.write() as tx:
            rule = _rule(tx, rule_id)
            dropped = tx.webhooks.fail_pending(
                rule.id, f"workflow rule {rule.name!r} was deleted before the message was sent"
            )
            tx.audit.add(
                actor,
                "workflow_rule.delete",
                "workflow_rule",
                rule.id,
                now=now,
                before=rule.view(),
                after={"pending_webhooks_failed": dropped},
            )
            tx.workflows.delete_rule(rule.id)
            return dropped

    # --- webhook outbox --------------------------------------------------------------------

    def webhooks(
        self,
        *,
        status: str | None = None,
        rule_id: int | None = None,
        before_id: int | None = None,
        limit: int = 100,
        stage: WebhookStage | None = None,
    ) -> list[WebhookMessage]:
        """Outbox messages, newest first, filtered by status, stage and rule."""
        wanted = None
        if status is not None:
            if status not in set(WebhookStatus):
                raise InvalidInput(
                    f"unknown status {status!r}; use one of {', '.join(WebhookStatus)}",
                    field="status",
                )
            wanted = WebhookStatus(status)
        with self.uow.read() as tx:
            return tx.webhooks.messages(
                status=wanted, rule_id=rule_id, before_id=before_id, limit=limit, stage=stage
            )

    def retry_webhook(self, actor: Actor, message_id: int) -> WebhookMessage:
        """Put a ``failed`` message back to ``pending``, due now, with a new series of
        attempts (its last error is kept until the next attempt)."""
        now = self.clock.now()
        with self.uow.write() as tx:
            message = tx.webhooks.message(message_id)
            if message is None:
                raise NotFound(f"no webhook message {message_id}", field="webhook_id")
            if message.status is not WebhookStatus.FAILED:
                raise Conflict(
                    f"webhook message {message_id} is {message.status}; only a failed message "
                    "is retried",
                    field="webhook_id",
                )
            if message.rule_id is None:
                raise Conflict(
                    f"the workflow rule of webhook message {message_id} was deleted: there is "
                    "no secret to sign it with",
                    field="webhook_id",
                )
            if not tx.webhooks.retry(message_id, now=now):
                raise Conflict(
                    f"webhook message {message_id} changed meanwhile", field="webhook_id"
                )
            retried = tx.webhooks.message(message_id)
            assert retried is not None
            tx.audit.add(
                actor,
                "webhook.retry",
                "webhook",
                message_id,
                now=now,
                before={"status": message.status.value, "attempts": message.attempts},
                after={"status": WebhookStatus.PENDING.value, "attempts": 0},
            )
            return retried


def _rule(tx: Transaction, rule_id: int) -> WorkflowRule:
    rule = tx.workflows.rule(rule_id)
    if rule is None:
        raise NotFound(f"no workflow rule {rule_id}", field="rule_id")
    return rule


def _name_free(tx: Transaction, name: str, *, but: int | None = None) -> None:
    other = tx.workflows.rule_named(name)
    if other is not None and other != but:
        raise AlreadyExists(f"a workflow rule named {name!r} already exists", field="name")


def _trigger(tx: Transaction, trigger: Mapping[str, Any]) -> Trigger:
    """A trigger whose campaigns exist and whose codes are wrap-up codes of them (of any
    set when it names no campaign); :class:`InvalidInput` names ``trigger.<key>[i]``."""
    codes, campaign_ids = trigger_shape(trigger)
    found = tx.workflows.existing_campaigns(campaign_ids)
    for i, campaign_id in enumerate(campaign_ids):
        if campaign_id not in found:
            raise InvalidInput(f"no campaign {campaign_id}", field=f"trigger.campaign_ids[{i}]")
    known = tx.workflows.known_codes(campaign_ids)
    codes = list(dict.fromkeys(codes))
    for i, code in enumerate(codes):
        if code not in known:
            where = "the campaigns named" if campaign_ids else "any wrap-up code set"
            raise InvalidInput(
                f"{code!r} is not a wrap-up code of {where}", field=f"trigger.codes[{i}]"
            )
    return Trigger(tuple(codes), tuple(campaign_ids))
