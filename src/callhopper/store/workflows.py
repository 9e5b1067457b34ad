"""Workflow rules in SQL: :class:`SqlWorkflowStore`
(:class:`callhopper.ports.workflows.WorkflowStore`), and :func:`fire`, which runs the rules
matching a wrap-up in the transaction of the agent's Done: the lead's owner becomes the
submitting agent or is cleared, a field of the record is set, or a webhook is queued
(:func:`callhopper.store.webhooks.queue_message`), each committed or rolled back with the
wrap-up.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from callhopper.domain.actors import Actor
from callhopper.domain.contacts import ListSchema
from callhopper.domain.errors import NotFound
from callhopper.domain.records import OWNER_ACTION
from callhopper.domain.workflows import (
    ActionType,
    FiredAction,
    Trigger,
    field_value,
    structural_role,
)
from callhopper.domain.workflows import WorkflowRule as Rule
from callhopper.domain.wrapup import OwnerAction
from callhopper.store import callbacks
from callhopper.store.audit import audit
from callhopper.store.models import (
    Campaign,
    ContactList,
    HopperEntry,
    Record,
    User,
    WorkflowRule,
    WrapupCode,
)
from callhopper.store.records import record_data_update
from callhopper.store.webhooks import queue_message

log = logging.getLogger(__name__)


def _rule(row: WorkflowRule) -> Rule:
    return Rule(
        id=row.id,
        name=row.name,
        enabled=row.enabled,
        trigger=Trigger(
            codes=tuple(row.trigger.get("codes") or ()),
            campaign_ids=tuple(row.trigger.get("campaign_ids") or ()),
        ),
        actions=tuple(row.actions),
        secret=row.secret,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlWorkflowStore:
    """:class:`callhopper.ports.workflows.WorkflowStore` in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def rule(self, rule_id: int) -> Rule | None:
        row = self.session.get(WorkflowRule, rule_id)
        return _rule(row) if row is not None else None

    def rules(self) -> list[Rule]:
        query = select(WorkflowRule).order_by(WorkflowRule.id)
        return [_rule(r) for r in self.session.scalars(query)]

    def rule_named(self, name: str) -> int | None:
        return self.session.scalar(select(WorkflowRule.id).where(WorkflowRule.name == name))

    def add_rule(
        self,
        *,
        name: str,
        enabled: bool,
        trigger: Trigger,
        actions: Sequence[dict[str, Any]],
        secret: str,
        now: datetime,
    ) -> Rule:
        row = WorkflowRule(
            name=name,
            enabled=enabled,
            trigger=trigger.to_dict(),
            actions=[dict(a) for a in actions],
            secret=secret,
            created_at=now,
            updated_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return _rule(row)

    def change_rule(
        self,
        rule_id: int,
        *,
        name: str,
        enabled: bool,
        trigger: Trigger,
        actions: Sequence[dict[str, Any]],
        now: datetime,
    ) -> Rule:
        row = self._get(rule_id)
        row.name = name
        row.enabled = enabled
        row.trigger = trigger.to_dict()
        row.actions = [dict(a) for a in actions]
        row.updated_at = now
        self.session.flush()
        return _rule(row)

    def set_secret(self, rule_id: int, secret: str, *, now: datetime) -> Rule:
        row = self._get(rule_id)
        row.secret = secret
        row.updated_at = now
        self.session.flush()
        return _rule(row)

    def delete_rule(self, rule_id: int) -> None:
        self.session.delete(self._get(rule_id))
        self.session.flush()

    def existing_campaigns(self, campaign_ids: Sequence[int]) -> set[int]:
        query = select(Campaign.id).where(Campaign.id.in_(list(campaign_ids)))
        return set(self.session.scalars(query))

    def known_codes(self, campaign_ids: Sequence[int]) -> set[str]:
        query = select(WrapupCode.code).distinct()
        if campaign_ids:
            query = query.join(Campaign, Campaign.wrapup_set_id == WrapupCode.set_id).where(
                Campaign.id.in_(list(campaign_ids))
            )
        return set(self.session.scalars(query))

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
        return fire(
            self.session,
            actor,
            campaign_id=campaign_id,
            campaign_name=campaign_name,
            record_id=record_id,
            code=code,
            agent_id=agent_id,
            agent_user_id=agent_user_id,
            owner_action=owner_action,
            now=now,
        )

    def _get(self, rule_id: int) -> WorkflowRule:
        row = self.session.get(WorkflowRule, rule_id)
        if row is None:
            raise NotFound(f"no workflow rule {rule_id}", field="rule_id")
        return row


# --- firing ----------------------------------------------------------------------------------


class _Firing:
    """The state of one record while the matching rules' actions run in order."""

    def __init__(
        self,
        session: Session,
        actor: Actor,
        *,
        campaign_id: int,
        campaign_name: str,
        record_id: int,
        code: str,
        agent_id: int,
        agent_user_id: str,
        owner_action: str | None,
        now: datetime,
    ) -> None:
        self.session = session
        self.actor = actor
        self.owner_action = owner_action
        self.campaign_id = campaign_id
        self.campaign_name = campaign_name
        self.record_id = record_id
        self.code = code
        self.agent_id = agent_id
        self.agent_user_id = agent_user_id
        self.now = now
        # Locked: the owner read here is the owner replaced (PostgreSQL; SQLite's write
        # transaction holds the database's writer lock already).
        row = session.execute(
            select(Record.list_id, Record.owner_id, Record.data)
            .where(Record.id == record_id)
            .with_for_update()
        ).first()
        if row is None:
            raise NotFound(f"no record {record_id}", field="record_id")
        self.list_id: int = row.list_id
        self.owner_id: int | None = row.owner_id
        self.first_owner_id = row.owner_id
        self.data: dict[str, Any] = dict(row.data)
        self.changed = False
        self._schema: ListSchema | None = None
        self._user_ids: dict[int, str] = {agent_id: agent_user_id}

    def user_id(self, user: int | None) -> str | None:
        if user is None:
            return None
        if user not in self._user_ids:
            found = self.session.scalar(select(User.user_id).where(User.id == user))
            if found is None:  # records.owner_id is a foreign key to users
                raise NotFound(f"no user {user}", field="owner_id")
            self._user_ids[user] = found
        return self._user_ids[user]

    def schema(self) -> ListSchema:
        if self._schema is None:
            raw = self.session.scalar(
                select(ContactList.schema).where(ContactList.id == self.list_id)
            )
            self._schema = ListSchema.model_validate(raw)
        return self._schema

    def reason(self, rule: Rule) -> str:
        return (
            f"workflow rule {rule.name!r} (wrap-up {self.code!r} in campaign "
            f"{self.campaign_name!r})"
        )

    def run(self, rule: Rule, position: int, action: Mapping[str, Any]) -> FiredAction:
        kind = str(action.get("type"))

        def result(
            outcome: Literal["applied", "unchanged", "skipped"],
            detail: str = "",
            webhook_id: int | None = None,
        ) -> FiredAction:
            return FiredAction(rule.id, rule.name, position, kind, outcome, detail, webhook_id)

        if kind == ActionType.SET_OWNER_TO_AGENT:
            return result(*self.set_owner(rule, self.agent_id))
        if kind == ActionType.CLEAR_OWNER:
            return result(*self.set_owner(rule, None))
        if kind == ActionType.CODE_OWNER_ACTION:
            if self.owner_action == OwnerAction.SET_OWNER_TO_AGENT:
                return result(*self.set_owner(rule, self.agent_id))
            if self.owner_action == OwnerAction.CLEAR_OWNER:
                return result(*self.set_owner(rule, None))
            return result("unchanged", f"wrap-up {self.code!r} has no owner action")
        if kind == ActionType.SET_FIELD:
            return result(*self.set_field(rule, str(action.get("field")), action.get("value")))
        if kind == ActionType.WEBHOOK:
            message_id = self.queue_webhook(rule, str(action.get("url")))
            return result("applied", f"webhook {message_id} queued", message_id)
        return result("skipped", f"unknown action type {kind!r}")

    def set_owner(
        self, rule: Rule, owner: int | None
    ) -> tuple[Literal["applied", "unchanged"], str]:
        if owner == self.owner_id:
            return "unchanged", f"owner already {self.user_id(owner) or 'none'}"
        before = self.user_id(self.owner_id)
        self.session.execute(
            update(Record)
            .where(Record.id == self.record_id)
            .values(owner_id=owner, updated_at=self.now)
            .execution_options(synchronize_session=False)
        )
        # A hopper entry carries the owner it was loaded for: it is stale now (the next
        # load stages the lead again for its new owner, or as a general lead).
        self.session.execute(
            delete(HopperEntry)
            .where(HopperEntry.record_id == self.record_id)
            .execution_options(synchronize_session=False)
        )
        callbacks.follow_owner(self.session, [self.record_id], self.now)
        self.owner_id = owner
        self.changed = True
        after = self.user_id(owner)
        audit(
            self.session,
            self.actor,
            OWNER_ACTION,
            "record",
            self.record_id,
            now=self.now,
            before={"owner_user_id": before},
            after={"owner_user_id": after},
            reason=self.reason(rule),
        )
        return "applied", f"owner {before or 'none'} -> {after or 'none'}"

    def set_field(
        self, rule: Rule, field: str, raw: Any
    ) -> tuple[Literal["applied", "unchanged", "skipped"], str]:
        schema = self.schema()
        column = schema.column(field)
        if column is None:
            return "skipped", f"{field!r} is not a column of the record's list"
        role = structural_role(schema, field)
        if role is not None:
            return "skipped", f"{field!r} is the list's {role}: a workflow rule does not set it"
        try:
            value = field_value(column, raw)
        except ValueError as exc:
            return "skipped", f"field {field!r}: {exc}"
        before = self.data.get(field)
        if (before or "") == value:
            return "unchanged", f"{field} already {value!r}"
        record_data_update(self.session, self.record_id, {field: value}, self.now)
        if value:
            self.data[field] = value
        else:
            self.data.pop(field, None)
        self.changed = True
        audit(
            self.session,
            self.actor,
            "record.edit",
            "record",
            self.record_id,
            now=self.now,
            before={field: before},
            after={field: value or None},
            reason=self.reason(rule),
        )
        return "applied", f"{field} = {value!r}"

    def queue_webhook(self, rule: Rule, url: str) -> int:
        return queue_message(self.session, rule.id, url, self.payload(rule), self.now)

    def payload(self, rule: Rule) -> dict[str, Any]:
        """What a webhook reports: the wrap-up, and the record as the actions before it left
        it (``owner_before`` is the owner before any rule fired on this wrap-up)."""
        return {
            "event": "wrapup",
            "rule": {"id": rule.id, "name": rule.name},
            "campaign": {"id": self.campaign_id, "name": self.campaign_name},
            "record_id": self.record_id,
            "list_id": self.list_id,
            "code": self.code,
            "agent_user_id": self.agent_user_id,
            "owner_before": self.user_id(self.first_owner_id),
            "owner_after": self.user_id(self.owner_id),
            "data": dict(self.data),
            "at": self.now.isoformat(),
        }


_ENABLED = select(WorkflowRule).where(WorkflowRule.enabled.is_(True)).order_by(WorkflowRule.id)


def fire(
    session: Session,
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
    """Run every enabled rule matching this wrap-up, in rule order, each rule's actions in
    order, in the caller's transaction (the agent's Done).

    Owner changes are audited per record (``record.owner``) and field changes
    (``record.edit``) with ``actor`` (the agent) and a reason naming the rule: agents never
    change ownership themselves, a rule defined by an admin does. A webhook is queued in
    ``webhook_outbox`` with the rest, never sent from here. ``owner_action`` is the
    wrap-up code's own (``set_owner_to_agent``, ``clear_owner`` or none), applied by
    ``code_owner_action`` actions.
    """
    enabled = (_rule(r) for r in session.scalars(_ENABLED))
    rules = [r for r in enabled if r.matches(campaign_id=campaign_id, code=code)]
    if not rules:
        return []
    firing = _Firing(
        session,
        actor,
        campaign_id=campaign_id,
        campaign_name=campaign_name,
        record_id=record_id,
        code=code,
        agent_id=agent_id,
        agent_user_id=agent_user_id,
        owner_action=owner_action,
        now=now,
    )
    fired = [
        firing.run(rule, position, action)
        for rule in rules
        for position, action in enumerate(rule.actions)
    ]
    for action in fired:
        if action.outcome == "skipped":
            log.warning(
                "workflow rule %r, action %d (%s) on record %d skipped: %s",
                action.rule_name,
                action.position,
                action.type,
                record_id,
                action.detail,
            )
    if firing.changed:
        # The updates bypassed the identity map; a Record the caller loaded must not keep
        # the values from before them.
        loaded = session.identity_map.get(identity_key(Record, record_id))
        if loaded is not None:
            session.expire(loaded, ["owner_id", "data", "updated_at"])
    return fired
