"""Workflow rules and their webhook outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from callhopper.api.deps import WorkflowsDep, require
from callhopper.api.ids import BigIntId, IntId
from callhopper.api.schemas import Body, Changes, Code, Name
from callhopper.domain.actors import Actor
from callhopper.domain.records import WebhookStatus
from callhopper.domain.rights import Right
from callhopper.domain.webhooks import WebhookMessage
from callhopper.domain.workflows import WorkflowRule

router = APIRouter(tags=["workflow rules"])

RuleManager = Annotated[Actor, Depends(require(Right.CAMPAIGN_MANAGE))]

_ACTIONS_DOC = (
    "Run in order: "
    '{"type": "set_owner_to_agent"} (the agent who submitted the wrap-up becomes the lead\'s '
    'owner), {"type": "clear_owner"} (back to the general pool), '
    '{"type": "code_owner_action"} (what the wrap-up code\'s owner_action says, if any), '
    '{"type": "set_field", "field": "status", "value": "hot"} (a column of the record\'s list; '
    'null clears it), {"type": "webhook", "url": "https://…"} (a signed POST, queued with the '
    "change and sent after it commits)."
)
_ACTIONS_EXAMPLE = [
    {"type": "set_owner_to_agent"},
    {"type": "set_field", "field": "status", "value": "hot"},
    {"type": "webhook", "url": "https://crm.example.com/hooks/callhopper"},
]


class TriggerIn(Body):
    codes: list[Code] = Field(description="Wrap-up codes that fire the rule (at least one).")
    campaign_ids: list[IntId] = Field(
        default_factory=list, description="Campaigns the rule applies to; empty: every campaign."
    )


class WorkflowRuleCreate(Body):
    name: Name = Field(min_length=1)
    enabled: bool = True
    trigger: TriggerIn
    actions: list[dict[str, Any]] = Field(description=_ACTIONS_DOC, examples=[_ACTIONS_EXAMPLE])


class WorkflowRuleUpdate(Changes):
    name: Name | None = Field(None, min_length=1)
    enabled: bool | None = None
    trigger: TriggerIn | None = Field(None, description="Replaces the trigger.")
    actions: list[dict[str, Any]] | None = Field(
        None, description="Replaces the actions. " + _ACTIONS_DOC
    )


class TriggerPublic(BaseModel):
    codes: list[str]
    campaign_ids: list[int]


class WorkflowRulePublic(BaseModel):
    id: int
    name: str
    enabled: bool
    trigger: TriggerPublic
    actions: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


class WorkflowRuleWithSecret(WorkflowRulePublic):
    secret: str = Field(
        description="Key of the HMAC-SHA256 signature of this rule's webhooks "
        "(X-Callhopper-Signature: sha256=<hex>)."
    )


class WebhookPublic(BaseModel):
    id: int
    rule_id: int | None = Field(description="None once the rule was deleted.")
    url: str
    status: Literal["pending", "sent", "failed"]
    attempts: int
    next_attempt_at: datetime | None = Field(description="When a pending message is due.")
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    payload: dict[str, Any]


def rule_public(rule: WorkflowRule) -> WorkflowRulePublic:
    return WorkflowRulePublic(
        id=rule.id,
        name=rule.name,
        enabled=rule.enabled,
        trigger=TriggerPublic.model_validate(rule.trigger.to_dict()),
        actions=[dict(a) for a in rule.actions],
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


def rule_with_secret(rule: WorkflowRule) -> WorkflowRuleWithSecret:
    return WorkflowRuleWithSecret(**rule_public(rule).model_dump(), secret=rule.secret)


def webhook_public(message: WebhookMessage) -> WebhookPublic:
    pending = message.status is WebhookStatus.PENDING
    return WebhookPublic(
        id=message.id,
        rule_id=message.rule_id,
        url=message.url,
        status=message.status.value,
        attempts=message.attempts,
        next_attempt_at=message.next_attempt_at if pending else None,
        last_error=message.last_error,
        created_at=message.created_at,
        sent_at=message.sent_at,
        payload=message.payload,
    )


@router.get("/workflow-rules", response_model=list[WorkflowRulePublic])
def list_rules(_actor: RuleManager, workflows: WorkflowsDep) -> list[WorkflowRulePublic]:
    """Every rule, without secrets."""
    return [rule_public(r) for r in workflows.rules()]


@router.post(
    "/workflow-rules", response_model=WorkflowRuleWithSecret, status_code=status.HTTP_201_CREATED
)
def create_rule(
    body: WorkflowRuleCreate, actor: RuleManager, workflows: WorkflowsDep
) -> WorkflowRuleWithSecret:
    """Create a rule; the answer carries its webhook signing secret."""
    rule = workflows.create_rule(
        actor,
        name=body.name,
        enabled=body.enabled,
        trigger=body.trigger.model_dump(),
        actions=body.actions,
    )
    return rule_with_secret(rule)


@router.get("/workflow-rules/{rule_id}", response_model=WorkflowRuleWithSecret)
def get_rule(
    rule_id: IntId, _actor: RuleManager, workflows: WorkflowsDep
) -> WorkflowRuleWithSecret:
    """One rule, with its webhook signing secret."""
    return rule_with_secret(workflows.rule(rule_id))


@router.patch("/workflow-rules/{rule_id}", response_model=WorkflowRulePublic)
def update_rule(
    rule_id: IntId, body: WorkflowRuleUpdate, actor: RuleManager, workflows: WorkflowsDep
) -> WorkflowRulePublic:
    """Change a rule: name, enabled, or the whole trigger or action list."""
    rule = workflows.update_rule(
        actor,
        rule_id,
        name=body.name,
        enabled=body.enabled,
        trigger=body.trigger.model_dump() if body.trigger is not None else None,
        actions=body.actions,
    )
    return rule_public(rule)


@router.delete("/workflow-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(rule_id: IntId, actor: RuleManager, workflows: WorkflowsDep) -> None:
    """Delete a rule; its webhooks not sent yet become ``failed`` (they cannot be signed)."""
    workflows.delete_rule(actor, rule_id)


@router.post("/workflow-rules/{rule_id}/rotate-secret", response_model=WorkflowRuleWithSecret)
def rotate_secret(
    rule_id: IntId, actor: RuleManager, workflows: WorkflowsDep
) -> WorkflowRuleWithSecret:
    """A new signing secret; webhooks sent from now on (pending ones too) are signed with it."""
    return rule_with_secret(workflows.rotate_secret(actor, rule_id))


@router.get("/webhooks", response_model=list[WebhookPublic], tags=["webhooks"])
def list_webhooks(
    _actor: RuleManager,
    workflows: WorkflowsDep,
    status: Literal["pending", "sent", "failed"] | None = None,
    rule_id: IntId | None = None,
    before_id: Annotated[
        BigIntId | None, Query(description="Page on: messages older than this id.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[WebhookPublic]:
    """Outbox messages, newest first, with their attempts and last error."""
    messages = workflows.webhooks(status=status, rule_id=rule_id, before_id=before_id, limit=limit)
    return [webhook_public(m) for m in messages]


@router.post("/webhooks/{webhook_id}/retry", response_model=WebhookPublic, tags=["webhooks"])
def retry_webhook(
    webhook_id: BigIntId, actor: RuleManager, workflows: WorkflowsDep
) -> WebhookPublic:
    """Send a failed message again: pending now, with a new series of attempts."""
    return webhook_public(workflows.retry_webhook(actor, webhook_id))
