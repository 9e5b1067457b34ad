"""Workflow rules: what happens to a lead when an agent wraps it up with a given code.

A rule's trigger is a wrap-up code (one of a set) on a campaign (one of a set; an empty set
means any campaign); its actions run in order, in the transaction of the agent's Done: the
lead's owner becomes the submitting agent or is cleared, a field of the record is set, or a
webhook is queued (and sent after the change commits, signed with the rule's secret).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlsplit

from callhopper.domain.contacts import (
    NUMBER_RE,
    ColumnSpec,
    FieldType,
    ListSchema,
    checkbox_value,
    datetime_value,
)
from callhopper.domain.errors import InvalidInput
from callhopper.domain.limits import MAX_NAME_LENGTH, MAX_URL_LENGTH

#: The prefix of a rule's webhook signing secret.
SECRET_PREFIX = "whsec_"
MAX_ACTIONS = 20
MAX_CODES = 100


class ActionType(StrEnum):
    """What an action of a rule does."""

    #: The agent who submitted the wrap-up becomes the lead's owner.
    SET_OWNER_TO_AGENT = "set_owner_to_agent"
    #: The lead goes back to the general pool.
    CLEAR_OWNER = "clear_owner"
    #: What the wrap-up code's own ``owner_action`` says (one rule can serve every code).
    CODE_OWNER_ACTION = "code_owner_action"
    #: A column of the record's list gets a value (``null`` clears it).
    SET_FIELD = "set_field"
    #: A signed POST, queued with the change and sent after it commits.
    WEBHOOK = "webhook"


#: The keys each action type takes (``type`` included); any other key is refused.
ACTION_KEYS: dict[str, frozenset[str]] = {
    ActionType.SET_OWNER_TO_AGENT: frozenset({"type"}),
    ActionType.CLEAR_OWNER: frozenset({"type"}),
    ActionType.CODE_OWNER_ACTION: frozenset({"type"}),
    ActionType.SET_FIELD: frozenset({"type", "field", "value"}),
    ActionType.WEBHOOK: frozenset({"type", "url"}),
}
# The same shape as wrap-up codes (callhopper.domain.wrapup).
_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")


@dataclass(frozen=True, slots=True)
class Trigger:
    """The wrap-up codes that fire a rule, on these campaigns (none: on every campaign)."""

    codes: tuple[str, ...]
    campaign_ids: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"codes": list(self.codes), "campaign_ids": list(self.campaign_ids)}


@dataclass(frozen=True, slots=True)
class WorkflowRule:
    """A rule with its normalised trigger and actions, and its webhook signing secret."""

    id: int
    name: str
    enabled: bool
    trigger: Trigger
    actions: tuple[dict[str, Any], ...]
    secret: str
    created_at: datetime
    updated_at: datetime

    def view(self) -> dict[str, Any]:
        """The rule as the audit log shows it (never with its secret)."""
        return {
            "id": self.id,
            "name": self.name,
            "enabled": self.enabled,
            "trigger": self.trigger.to_dict(),
            "actions": [dict(a) for a in self.actions],
        }

    def matches(self, *, campaign_id: int, code: str) -> bool:
        """Whether the rule is enabled and its trigger covers this wrap-up code on this
        campaign."""
        return (
            self.enabled
            and code in self.trigger.codes
            and (not self.trigger.campaign_ids or campaign_id in self.trigger.campaign_ids)
        )


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


# --- validation ------------------------------------------------------------------------------


def check_name(value: str) -> str:
    """A rule name: stripped, not empty, at most 200 characters."""
    value = value.strip()
    if not value:
        raise InvalidInput("the name is empty", field="name")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidInput(f"the name is longer than {MAX_NAME_LENGTH} characters", field="name")
    return value


def trigger_shape(trigger: Mapping[str, Any]) -> tuple[list[str], list[int]]:
    """The codes (as given) and the distinct campaign ids of a trigger
    ``{"codes": [...], "campaign_ids": [...]}``, checked for their form only: that they exist
    is for the caller to check (:class:`InvalidInput` names ``trigger.<key>[i]``)."""
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
    return codes, list(dict.fromkeys(campaign_ids))


def check_actions(actions: Sequence[Any]) -> tuple[dict[str, Any], ...]:
    """Validate a rule's actions; returns them normalised. Errors name ``actions[i].key``."""
    if not isinstance(actions, Sequence) or isinstance(actions, str) or not actions:
        raise InvalidInput("give at least one action", field="actions")
    if len(actions) > MAX_ACTIONS:
        raise InvalidInput(f"at most {MAX_ACTIONS} actions", field="actions")
    return tuple(_check_action(i, action) for i, action in enumerate(actions))


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
    if kind == ActionType.SET_FIELD:
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
    if kind == ActionType.WEBHOOK:
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


# --- set_field ---------------------------------------------------------------------------------


def structural_role(schema: ListSchema, field: str) -> str | None:
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
