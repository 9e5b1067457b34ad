"""Workflow rules (SPEC §7.4) and their webhook outbox.

A rule's trigger is a wrap-up code (one of a set) on a campaign (one of a set; an empty
set means any campaign); its actions run in order, in the transaction of the agent's
Done (:func:`fire`): the lead's owner becomes the submitting agent or is cleared, a
field of the record is set, or a webhook is queued. A webhook is only a row of
``webhook_outbox`` here, committed (or rolled back) with the change it reports; the
:class:`callhopper.core.webhooks.WebhookSender` delivers it later, outside any
transaction, so that a slow or failing endpoint can never block or undo a wrap-up.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from callhopper.domain.actors import Actor
from callhopper.domain.contacts import (
    NUMBER_RE,
    ColumnSpec,
    FieldType,
    ListSchema,
    checkbox_value,
    datetime_value,
)
from callhopper.domain.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from callhopper.domain.users import new_secret
from callhopper.store.audit import audit
from callhopper.store.models import (
    Campaign,
    ContactList,
    HopperEntry,
    Record,
    User,
    WebhookMessage,
    WorkflowRule,
    WrapupCode,
)
from callhopper.store.records import record_data_update

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
MAX_ACTIONS = 20
MAX_CODES = 100
MAX_URL_LENGTH = 2000
MAX_NAME_LENGTH = 200
WEBHOOK_STATUSES = ("pending", "sent", "failed")
#: The audit action of every lead owner change, whoever makes it (SPEC §1).
OWNER_ACTION = "record.owner"

#: The keys each action type takes (``type`` included); any other key is refused.
ACTION_KEYS: dict[str, frozenset[str]] = {
    "set_owner_to_agent": frozenset({"type"}),
    "clear_owner": frozenset({"type"}),
    # The wrap-up code's own ``owner_action`` (SPEC §4.3): one rule can serve every code.
    "code_owner_action": frozenset({"type"}),
    "set_field": frozenset({"type", "field", "value"}),
    "webhook": frozenset({"type", "url"}),
}
# The same shape as wrap-up codes (callhopper.domain.wrapup).
_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")


# --- validation ------------------------------------------------------------------------------


def check_name(value: str) -> str:
    """A rule name: stripped, not empty, at most 200 characters."""
    value = value.strip()
    if not value:
        raise InvalidInput("the name is empty", field="name")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidInput(f"the name is longer than {MAX_NAME_LENGTH} characters", field="name")
    return value


def check_trigger(session: Session, trigger: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a trigger ``{"codes": [...], "campaign_ids": [...]}``; returns it normalised.

    Every code must be a wrap-up code of at least one of the campaigns named (of any
    wrap-up code set when no campaign is named), and every campaign must exist: a typo
    would otherwise make a rule that never fires.
    """
    unknown = sorted(set(trigger) - {"codes", "campaign_ids"})
    if unknown:
        raise InvalidInput(
            f"unknown trigger key(s): {', '.join(unknown)}; a trigger has codes and campaign_ids",
            field=f"trigger.{unknown[0]}",
        )
    codes = trigger.get("codes")
    if not isinstance(codes, list) or not codes:
        raise InvalidInput("give at least one wrap-up code", field="trigger.codes")
    if len(codes) > MAX_CODES:
        raise InvalidInput(f"at most {MAX_CODES} codes", field="trigger.codes")
    for i, code in enumerate(codes):
        if not isinstance(code, str) or not _CODE_RE.match(code):
            raise InvalidInput(
                f"{code!r} is not a wrap-up code (lower-case letters, digits, underscores)",
                field=f"trigger.codes[{i}]",
            )
    campaign_ids = trigger.get("campaign_ids", [])
    if not isinstance(campaign_ids, list):
        raise InvalidInput(
            "campaign_ids must be a list of campaign ids (empty: any campaign)",
            field="trigger.campaign_ids",
        )
    for i, campaign_id in enumerate(campaign_ids):
        if isinstance(campaign_id, bool) or not isinstance(campaign_id, int):
            raise InvalidInput(
                f"{campaign_id!r} is not a campaign id", field=f"trigger.campaign_ids[{i}]"
            )
    campaign_ids = list(dict.fromkeys(campaign_ids))
    found = set(session.scalars(select(Campaign.id).where(Campaign.id.in_(campaign_ids))))
    for i, campaign_id in enumerate(campaign_ids):
        if campaign_id not in found:
            raise InvalidInput(f"no campaign {campaign_id}", field=f"trigger.campaign_ids[{i}]")
    known_query = select(WrapupCode.code).distinct()
    if campaign_ids:
        known_query = known_query.join(Campaign, Campaign.wrapup_set_id == WrapupCode.set_id).where(
            Campaign.id.in_(campaign_ids)
        )
    known = set(session.scalars(known_query))
    codes = list(dict.fromkeys(codes))
    for i, code in enumerate(codes):
        if code not in known:
            where = "the campaigns named" if campaign_ids else "any wrap-up code set"
            raise InvalidInput(
                f"{code!r} is not a wrap-up code of {where}", field=f"trigger.codes[{i}]"
            )
    return {"codes": codes, "campaign_ids": campaign_ids}


def check_actions(actions: Sequence[Any]) -> list[dict[str, Any]]:
    """Validate a rule's actions; returns them normalised. Errors name ``actions[i].key``."""
    if not isinstance(actions, Sequence) or isinstance(actions, str) or not actions:
        raise InvalidInput("give at least one action", field="actions")
    if len(actions) > MAX_ACTIONS:
        raise InvalidInput(f"at most {MAX_ACTIONS} actions", field="actions")
    return [_check_action(i, action) for i, action in enumerate(actions)]


def _check_action(i: int, action: Any) -> dict[str, Any]:
    where = f"actions[{i}]"
    if not isinstance(action, Mapping):
        raise InvalidInput('an action is an object such as {"type": "clear_owner"}', field=where)
    kind = action.get("type")
    if kind not in ACTION_KEYS:
        raise InvalidInput(
            f"unknown action type {kind!r}; use one of {', '.join(ACTION_KEYS)}",
            field=f"{where}.type",
        )
    extra = sorted(set(action) - ACTION_KEYS[kind])
    if extra:
        raise InvalidInput(
            f"{extra[0]!r} is not a setting of a {kind} action", field=f"{where}.{extra[0]}"
        )
    if kind == "set_field":
        field = action.get("field")
        if not isinstance(field, str) or not field.strip():
            raise InvalidInput(
                "name the field (a column of the record's list) to set", field=f"{where}.field"
            )
        if "value" not in action:
            raise InvalidInput("give the value to set (null clears)", field=f"{where}.value")
        value = action["value"]
        if value is not None and not isinstance(value, str | int | float | bool):
            raise InvalidInput(
                "the value must be a string, number, boolean or null", field=f"{where}.value"
            )
        return {"type": kind, "field": field.strip(), "value": value}
    if kind == "webhook":
        return {"type": kind, "url": check_url(action.get("url"), field=f"{where}.url")}
    return {"type": kind}


def check_url(raw: object, *, field: str) -> str:
    """An absolute ``http`` or ``https`` URL with a host."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput("give the URL to post to", field=field)
    url = raw.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"the URL is longer than {MAX_URL_LENGTH} characters", field=field)
    try:
        parts = urlsplit(url)
        has_host = bool(parts.hostname)
    except ValueError as exc:
        raise InvalidInput(f"{url!r} is not a URL: {exc}", field=field) from None
    if parts.scheme not in ("http", "https") or not has_host:
        raise InvalidInput(f"{url!r} is not an http:// or https:// URL", field=field)
    return url


# --- rules -----------------------------------------------------------------------------------


def get_rule(session: Session, rule_id: int) -> WorkflowRule:
    """The rule, or :class:`NotFound`."""
    rule = session.get(WorkflowRule, rule_id)
    if rule is None:
        raise NotFound(f"no workflow rule {rule_id}", field="rule_id")
    return rule


def list_rules(session: Session) -> Sequence[WorkflowRule]:
    """Every rule, in creation order."""
    return session.scalars(select(WorkflowRule).order_by(WorkflowRule.id)).all()


def _check_unique(session: Session, name: str, rule_id: int | None = None) -> None:
    other = session.scalar(select(WorkflowRule.id).where(WorkflowRule.name == name))
    if other is not None and other != rule_id:
        raise AlreadyExists(f"a workflow rule named {name!r} already exists", field="name")


def create_rule(
    session: Session,
    actor: Actor,
    *,
    name: str,
    trigger: Mapping[str, Any],
    actions: Sequence[Any],
    enabled: bool = True,
    now: datetime,
) -> WorkflowRule:
    """Create a rule with a fresh signing secret (audited without the secret)."""
    name = check_name(name)
    _check_unique(session, name)
    rule = WorkflowRule(
        name=name,
        enabled=enabled,
        trigger=check_trigger(session, trigger),
        actions=check_actions(actions),
        secret=new_secret(SECRET_PREFIX),
        created_at=now,
        updated_at=now,
    )
    session.add(rule)
    session.flush()
    audit(
        session,
        actor,
        "workflow_rule.create",
        "workflow_rule",
        rule.id,
        now=now,
        after=rule_view(rule),
    )
    return rule


def update_rule(
    session: Session,
    actor: Actor,
    rule_id: int,
    *,
    name: str | None = None,
    enabled: bool | None = None,
    trigger: Mapping[str, Any] | None = None,
    actions: Sequence[Any] | None = None,
    now: datetime,
) -> WorkflowRule:
    """Change a rule; ``trigger`` and ``actions`` are replaced whole when given."""
    rule = get_rule(session, rule_id)
    before = rule_view(rule)
    if name is not None:
        name = check_name(name)
        _check_unique(session, name, rule.id)
        rule.name = name
    if enabled is not None:
        rule.enabled = enabled
    if trigger is not None:
        rule.trigger = check_trigger(session, trigger)
    if actions is not None:
        rule.actions = check_actions(actions)
    after = rule_view(rule)
    if after != before:
        rule.updated_at = now
        audit(
            session,
            actor,
            "workflow_rule.update",
            "workflow_rule",
            rule.id,
            now=now,
            before=before,
            after=after,
        )
    session.flush()
    return rule


def rotate_secret(session: Session, actor: Actor, rule_id: int, *, now: datetime) -> WorkflowRule:
    """Give the rule a new signing secret. Messages not sent yet are signed with the new one."""
    rule = get_rule(session, rule_id)
    rule.secret = new_secret(SECRET_PREFIX)
    rule.updated_at = now
    session.flush()
    audit(
        session,
        actor,
        "workflow_rule.rotate_secret",
        "workflow_rule",
        rule.id,
        now=now,
        reason="new webhook signing secret",
    )
    return rule


def delete_rule(session: Session, actor: Actor, rule_id: int, *, now: datetime) -> int:
    """Delete a rule. Its messages not sent yet can no longer be signed: they are marked
    ``failed`` (and stay listed). Returns how many were."""
    rule = get_rule(session, rule_id)
    dropped = session.execute(
        update(WebhookMessage)
        .where(WebhookMessage.rule_id == rule.id, WebhookMessage.status == "pending")
        .values(
            status="failed",
            last_error=f"workflow rule {rule.name!r} was deleted before the message was sent",
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    audit(
        session,
        actor,
        "workflow_rule.delete",
        "workflow_rule",
        rule.id,
        now=now,
        before=rule_view(rule),
        after={"pending_webhooks_failed": dropped},
    )
    session.delete(rule)
    session.flush()
    return int(dropped)


def rule_view(rule: WorkflowRule) -> dict[str, Any]:
    """The rule as audited (never with its secret)."""
    return {
        "id": rule.id,
        "name": rule.name,
        "enabled": rule.enabled,
        "trigger": rule.trigger,
        "actions": rule.actions,
    }


def matches(rule: WorkflowRule, *, campaign_id: int, code: str) -> bool:
    """Whether an enabled rule's trigger covers this wrap-up code on this campaign."""
    campaign_ids = rule.trigger.get("campaign_ids") or []
    return (
        rule.enabled
        and code in (rule.trigger.get("codes") or [])
        and (not campaign_ids or campaign_id in campaign_ids)
    )


# --- firing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FiredAction:
    """What one action of a matching rule did.

    ``outcome``: ``applied`` (the record changed, or a webhook was queued: ``webhook_id``),
    ``unchanged`` (it already was so) or ``skipped`` (``detail`` says why, e.g. a field
    that is not a column of the record's list).
    """

    rule_id: int
    rule_name: str
    position: int
    type: str
    outcome: Literal["applied", "unchanged", "skipped"]
    detail: str = ""
    webhook_id: int | None = None


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

    def reason(self, rule: WorkflowRule) -> str:
        return (
            f"workflow rule {rule.name!r} (wrap-up {self.code!r} in campaign "
            f"{self.campaign_name!r})"
        )

    def run(self, rule: WorkflowRule, position: int, action: Mapping[str, Any]) -> FiredAction:
        kind = str(action.get("type"))

        def result(
            outcome: Literal["applied", "unchanged", "skipped"],
            detail: str = "",
            webhook_id: int | None = None,
        ) -> FiredAction:
            return FiredAction(rule.id, rule.name, position, kind, outcome, detail, webhook_id)

        if kind == "set_owner_to_agent":
            return result(*self.set_owner(rule, self.agent_id))
        if kind == "clear_owner":
            return result(*self.set_owner(rule, None))
        if kind == "code_owner_action":
            if self.owner_action == "set_owner_to_agent":
                return result(*self.set_owner(rule, self.agent_id))
            if self.owner_action == "clear_owner":
                return result(*self.set_owner(rule, None))
            return result("unchanged", f"wrap-up {self.code!r} has no owner action")
        if kind == "set_field":
            return result(*self.set_field(rule, str(action.get("field")), action.get("value")))
        if kind == "webhook":
            message_id = self.queue_webhook(rule, str(action.get("url")))
            return result("applied", f"webhook {message_id} queued", message_id)
        return result("skipped", f"unknown action type {kind!r}")

    def set_owner(
        self, rule: WorkflowRule, owner: int | None
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
        self, rule: WorkflowRule, field: str, raw: Any
    ) -> tuple[Literal["applied", "unchanged", "skipped"], str]:
        schema = self.schema()
        column = schema.column(field)
        if column is None:
            return "skipped", f"{field!r} is not a column of the record's list"
        role = _structural_role(schema, field)
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

    def queue_webhook(self, rule: WorkflowRule, url: str) -> int:
        message = WebhookMessage(
            rule_id=rule.id,
            url=url,
            payload=self.payload(rule),
            status="pending",
            attempts=0,
            next_attempt_at=self.now,
            last_error="",
            created_at=self.now,
        )
        self.session.add(message)
        self.session.flush()
        return message.id

    def payload(self, rule: WorkflowRule) -> dict[str, Any]:
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


def _structural_role(schema: ListSchema, field: str) -> str | None:
    """Why a column may not be set by a rule: it feeds phones, key, time zone or owners."""
    if field in {p.column for p in schema.phone_columns}:
        return "phone column"
    if schema.timezone_source is not None and field == schema.timezone_source.column:
        return "time-zone column"
    for role, column in (
        ("key column", schema.key_column),
        ("agent-owned column", schema.agent_owned_column),
        ("lead-owner column", schema.lead_owner_column),
    ):
        if field == column:
            return role
    return None


def field_value(column: ColumnSpec, raw: Any) -> str:
    """A rule's value as stored for the column's type; :class:`ValueError` names the problem.
    The empty string removes the value."""
    if raw is None:
        text = ""
    elif isinstance(raw, bool):
        text = "true" if raw else "false"
    else:
        text = str(raw).strip()
    if text:
        if column.type is FieldType.NUMBER and not NUMBER_RE.match(text):
            raise ValueError(f"{text!r} is not a number")
        if column.type is FieldType.CHECKBOX:
            text = checkbox_value(text)
        elif column.type is FieldType.DATETIME:
            text = datetime_value(text)
        elif column.type is FieldType.DROPDOWN:
            by_fold = {o.casefold(): o for o in column.options}
            if text.casefold() not in by_fold:
                raise ValueError(f"{text!r} is not one of {', '.join(column.options)}")
            text = by_fold[text.casefold()]
    elif column.required:
        raise ValueError("the column is required and cannot be emptied")
    return text


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
    rules = [r for r in session.scalars(_ENABLED) if matches(r, campaign_id=campaign_id, code=code)]
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


# --- webhook outbox --------------------------------------------------------------------------


def get_webhook(session: Session, message_id: int) -> WebhookMessage:
    """The message, or :class:`NotFound`."""
    message = session.get(WebhookMessage, message_id)
    if message is None:
        raise NotFound(f"no webhook message {message_id}", field="webhook_id")
    return message


def list_webhooks(
    session: Session,
    *,
    status: str | None = None,
    rule_id: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> Sequence[WebhookMessage]:
    """Outbox messages, newest first, filtered by status and rule."""
    query = select(WebhookMessage)
    if status is not None:
        if status not in WEBHOOK_STATUSES:
            raise InvalidInput(
                f"unknown status {status!r}; use one of {', '.join(WEBHOOK_STATUSES)}",
                field="status",
            )
        query = query.where(WebhookMessage.status == status)
    if rule_id is not None:
        query = query.where(WebhookMessage.rule_id == rule_id)
    if before_id is not None:
        query = query.where(WebhookMessage.id < before_id)
    return session.scalars(query.order_by(WebhookMessage.id.desc()).limit(limit)).all()


def retry_webhook(
    session: Session, actor: Actor, message_id: int, *, now: datetime
) -> WebhookMessage:
    """Put a ``failed`` message back to ``pending``, due now, with a new series of attempts
    (its last error is kept until the next attempt)."""
    message = get_webhook(session, message_id)
    if message.status != "failed":
        raise Conflict(
            f"webhook message {message_id} is {message.status}; only a failed message is retried",
            field="webhook_id",
        )
    if message.rule_id is None:
        raise Conflict(
            f"the workflow rule of webhook message {message_id} was deleted: there is no secret "
            "to sign it with",
            field="webhook_id",
        )
    before = {"status": message.status, "attempts": message.attempts}
    retried = session.execute(
        update(WebhookMessage)
        .where(WebhookMessage.id == message_id, WebhookMessage.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if not retried:
        raise Conflict(f"webhook message {message_id} changed meanwhile", field="webhook_id")
    session.refresh(message)
    audit(
        session,
        actor,
        "webhook.retry",
        "webhook",
        message_id,
        now=now,
        before=before,
        after={"status": "pending", "attempts": 0},
    )
    return message


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


def claim_webhooks(
    session: Session, *, now: datetime, lease_until: datetime, limit: int
) -> list[ClaimedWebhook]:
    """Take up to ``limit`` due pending messages, oldest first, in one statement: their
    ``next_attempt_at`` becomes ``lease_until``, so no other sender takes them meanwhile.

    On PostgreSQL the candidates are locked with ``SKIP LOCKED`` (concurrent senders take
    disjoint batches); on SQLite the caller's write transaction holds the writer lock.
    """
    due = (  # pending messages whose time has come, oldest first, skipping others' claims
        select(WebhookMessage.id)
        .where(WebhookMessage.status == "pending", WebhookMessage.next_attempt_at <= now)
        .order_by(WebhookMessage.next_attempt_at, WebhookMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    rows = session.execute(
        update(WebhookMessage)
        .where(WebhookMessage.id == due.c.id)
        .values(next_attempt_at=lease_until)
        .returning(
            WebhookMessage.id,
            WebhookMessage.rule_id,
            WebhookMessage.url,
            WebhookMessage.payload,
            WebhookMessage.attempts,
        )
        .execution_options(synchronize_session=False)
    ).all()
    rule_ids = {r.rule_id for r in rows if r.rule_id is not None}
    secrets = {
        r.id: r.secret
        for r in session.execute(
            select(WorkflowRule.id, WorkflowRule.secret).where(WorkflowRule.id.in_(rule_ids))
        )
    }
    return sorted(
        (
            ClaimedWebhook(
                id=r.id,
                rule_id=r.rule_id,
                url=r.url,
                payload=r.payload,
                attempts=r.attempts,
                secret=secrets.get(r.rule_id) if r.rule_id is not None else None,
                lease_until=lease_until,
            )
            for r in rows
        ),
        key=lambda c: c.id,
    )


def _held(claimed: ClaimedWebhook) -> Any:
    # Only the holder of the current lease records a result: a sender whose lease lapsed
    # (and whose message another sender took) changes nothing.
    return (
        (WebhookMessage.id == claimed.id)
        & (WebhookMessage.status == "pending")
        & (WebhookMessage.next_attempt_at == claimed.lease_until)
    )


def webhook_sent(session: Session, claimed: ClaimedWebhook, *, now: datetime) -> bool:
    """Record a delivery (2xx); false if the lease was lost meanwhile."""
    return _record(
        session,
        claimed,
        status="sent",
        attempts=claimed.attempts + 1,
        next_attempt_at=now,
        sent_at=now,
        last_error="",
    )


def webhook_attempt_failed(
    session: Session,
    claimed: ClaimedWebhook,
    *,
    error: str,
    now: datetime,
    retry_at: datetime | None,
) -> bool:
    """Record a failed attempt: due again at ``retry_at``, or ``failed`` for good when it is
    ``None``. False if the lease was lost meanwhile."""
    return _record(
        session,
        claimed,
        status="pending" if retry_at is not None else "failed",
        attempts=claimed.attempts + 1,
        next_attempt_at=retry_at if retry_at is not None else now,
        last_error=error,
    )


def webhook_released(session: Session, claimed: ClaimedWebhook, *, now: datetime) -> bool:
    """Give back a claimed message not attempted: due again now, no attempt counted."""
    return _record(
        session, claimed, status="pending", attempts=claimed.attempts, next_attempt_at=now
    )


def _record(session: Session, claimed: ClaimedWebhook, **values: Any) -> bool:
    matched = session.execute(
        update(WebhookMessage)
        .where(_held(claimed))
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return bool(matched)
