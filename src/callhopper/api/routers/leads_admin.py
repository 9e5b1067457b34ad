"""Lead owners for admins: one lead, mass edit, staleness rules.

Only holders of ``lead.mass_edit`` change lead owners; agents have no way to (the rules are
in docs/concepts/lead-ownership.md). Inbound routing is in :mod:`.inbound`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from callhopper.api.deps import OwnersDep, require, require_any
from callhopper.api.ids import BigIntId, IntId
from callhopper.api.schemas import Body, Changes, Code, FilterText, Name, Reason, UserRef
from callhopper.core.owners import MAX_RUNS
from callhopper.domain.actors import Actor
from callhopper.domain.lead_owners import (
    MAX_DISTRIBUTE_AGENTS,
    MassAction,
    MassEdit,
    StalenessRule,
    StalenessRuleSpec,
)
from callhopper.domain.rights import Right

router = APIRouter(tags=["lead owners"])

LeadEditor = Annotated[Actor, Depends(require(Right.LEAD_MASS_EDIT))]
RuleReader = Annotated[Actor, Depends(require_any(Right.LEAD_MASS_EDIT, Right.REPORT_VIEW))]
RouteManager = Annotated[Actor, Depends(require(Right.CAMPAIGN_MANAGE))]

_REASON = Field("", description="Why: written to the audit log.")


# --- one lead's owner ----------------------------------------------------------------------------


class OwnerIn(Body):
    owner: UserRef | None = Field(
        description="The new owner's user_id, or null for the general pool."
    )
    reason: Reason = _REASON


class OwnerPublic(BaseModel):
    list_id: int
    record_id: int
    owner_user_id: str | None
    updated_at: datetime


@router.put("/contact-lists/{list_id}/records/{record_id}/owner", response_model=OwnerPublic)
def set_owner(
    list_id: IntId, record_id: BigIntId, body: OwnerIn, actor: LeadEditor, owners: OwnersDep
) -> OwnerPublic:
    """Give one lead to an agent (an active user with ``agent.work``), or clear its owner
    (``null``: back to the general pool). Audited as ``record.owner``. Another agent who
    holds the lead in a lead-ownership campaign and has not dialled it yet loses it
    (``delivery_ended``, reason ``owner_changed``)."""
    change = owners.set_owner(actor, list_id, record_id, body.owner, reason=body.reason)
    return OwnerPublic.model_validate(change, from_attributes=True)


# --- mass edit -----------------------------------------------------------------------------------


class MassEditIn(Body):
    filter: FilterText | None = Field(
        None, description='A lead filter over the list\'s columns, e.g. `state == "AZ"`.'
    )
    owner: UserRef | None = Field(
        None, description="Only leads of this owner (a user_id), or `none` for unowned leads."
    )
    action: MassAction
    owner_user_id: UserRef | None = Field(None, description="The new owner (set_owner).")
    agents: list[UserRef] = Field(
        default_factory=list,
        max_length=MAX_DISTRIBUTE_AGENTS,
        description="The agents to spread the leads over, round-robin (distribute).",
    )
    dry_run: bool = Field(description="Only count: change nothing.")
    note: Reason = Field("", description="Why: the audit reason is 'mass edit: …'.")


class PlannedOwnerPublic(BaseModel):
    record_id: int
    owner_user_id: str | None = Field(description="The owner now (null: the general pool).")
    new_owner_user_id: str | None = Field(description="The owner after the edit.")


class MassEditPublic(BaseModel):
    matched: int
    changed: int
    per_agent: dict[str, int] | None = None
    dry_run: bool
    sample: list[PlannedOwnerPublic] = Field(
        default_factory=list,
        description="A dry run's first 20 leads that would change owner, by record id.",
    )


@router.post("/contact-lists/{list_id}/mass-edit", response_model=MassEditPublic)
def mass_edit(
    list_id: IntId, body: MassEditIn, actor: LeadEditor, owners: OwnersDep
) -> MassEditPublic:
    """Set, clear or distribute the owner of the leads of a list that match ``filter`` and
    ``owner``, in one transaction, each change audited. ``dry_run`` only counts. At most
    1,000,000 leads per edit."""
    edit = MassEdit(
        action=body.action,
        filter=body.filter,
        owner=body.owner,
        owner_user_id=body.owner_user_id,
        agents=tuple(body.agents),
        note=body.note,
    )
    result = owners.mass_edit(actor, list_id, edit, dry_run=body.dry_run)
    return MassEditPublic.model_validate(result, from_attributes=True)


# --- staleness rules -----------------------------------------------------------------------------


#: A hundred years: the column holds more, but a cutoff that far back is no rule (and one
#: before year 1 cannot be computed at all).
MAX_NOT_CALLED_DAYS = 36_500


class StalenessRuleCreate(Body):
    name: Name = Field(min_length=1)
    list_id: IntId | None = Field(None, description="The list; null for every list.")
    statuses: list[Code] = Field(
        default_factory=list, description="Release leads whose last wrap-up code is one of these"
    )
    not_called_days: int | None = Field(
        None,
        ge=1,
        le=MAX_NOT_CALLED_DAYS,
        description="… or that have not been called for this many days",
    )
    owner_deactivated: bool = Field(False, description="… or whose owner is deactivated.")
    every_minutes: int = Field(60, ge=1, le=525_600)
    enabled: bool = True


class StalenessRuleUpdate(Changes):
    nullable = frozenset({"list_id", "not_called_days"})

    name: Name | None = Field(None, min_length=1)
    list_id: IntId | None = Field(None, description="null: every list.")
    statuses: list[Code] | None = None
    not_called_days: int | None = Field(
        None, ge=1, le=MAX_NOT_CALLED_DAYS, description="null: drop this condition."
    )
    owner_deactivated: bool | None = None
    every_minutes: int | None = Field(None, ge=1, le=525_600)
    enabled: bool | None = None


class StalenessRulePublic(BaseModel):
    id: int
    name: str
    list_id: int | None
    statuses: list[str]
    not_called_days: int | None
    owner_deactivated: bool
    every_minutes: int
    enabled: bool
    last_run_at: datetime | None
    next_run_at: datetime | None
    created_at: datetime


class RunPublic(BaseModel):
    released: int


class StalenessRunPublic(BaseModel):
    rule_id: int
    at: datetime
    actor: str = Field(description="Who ran it: a user_id, or system for the scheduled runs.")
    released: int = Field(description="How many leads the run gave back to the general pool.")
    reason: str = Field(description="'staleness rule <name>', the rule's name at the time.")


def rule_public(rule: StalenessRule) -> StalenessRulePublic:
    """A stored rule as the API shows it."""
    return StalenessRulePublic(
        id=rule.id,
        name=rule.spec.name,
        list_id=rule.spec.list_id,
        statuses=list(rule.spec.statuses),
        not_called_days=rule.spec.not_called_days,
        owner_deactivated=rule.spec.owner_deactivated,
        every_minutes=rule.spec.every_minutes,
        enabled=rule.spec.enabled,
        last_run_at=rule.last_run_at,
        next_run_at=rule.next_run_at,
        created_at=rule.created_at,
    )


@router.get("/staleness-rules", response_model=list[StalenessRulePublic])
def list_rules(_actor: RuleReader, owners: OwnersDep) -> list[StalenessRulePublic]:
    """Every staleness rule, with its last and next run."""
    return [rule_public(r) for r in owners.rules()]


@router.post(
    "/staleness-rules", response_model=StalenessRulePublic, status_code=status.HTTP_201_CREATED
)
def create_rule(
    body: StalenessRuleCreate, actor: LeadEditor, owners: OwnersDep
) -> StalenessRulePublic:
    """A rule that releases stale owned leads back to the general pool, every
    ``every_minutes`` (the first run is due at once)."""
    spec = StalenessRuleSpec(
        name=body.name,
        list_id=body.list_id,
        statuses=tuple(body.statuses),
        not_called_days=body.not_called_days,
        owner_deactivated=body.owner_deactivated,
        every_minutes=body.every_minutes,
        enabled=body.enabled,
    )
    return rule_public(owners.create_rule(actor, spec))


@router.get("/staleness-runs", response_model=list[StalenessRunPublic])
def list_runs(
    _actor: RuleReader,
    owners: OwnersDep,
    rule_id: Annotated[IntId | None, Query(description="Only the runs of this rule.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_RUNS)] = 100,
) -> list[StalenessRunPublic]:
    """The latest runs of the staleness rules (scheduled or by hand), newest first, with how
    many leads each released; runs of deleted rules too."""
    runs = owners.runs(rule_id, limit=limit)
    return [StalenessRunPublic.model_validate(r, from_attributes=True) for r in runs]


@router.get("/staleness-rules/{rule_id}", response_model=StalenessRulePublic)
def get_rule(rule_id: IntId, _actor: RuleReader, owners: OwnersDep) -> StalenessRulePublic:
    """One staleness rule."""
    return rule_public(owners.rule(rule_id))


@router.patch("/staleness-rules/{rule_id}", response_model=StalenessRulePublic)
def update_rule(
    rule_id: IntId, body: StalenessRuleUpdate, actor: LeadEditor, owners: OwnersDep
) -> StalenessRulePublic:
    """Change the fields given; ``"list_id": null`` makes the rule apply to every list and
    ``"not_called_days": null`` drops that condition."""
    changes = body.model_dump(exclude_unset=True)
    if "statuses" in changes:
        changes["statuses"] = tuple(changes["statuses"])
    return rule_public(owners.update_rule(actor, rule_id, changes))


@router.delete("/staleness-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(rule_id: IntId, actor: LeadEditor, owners: OwnersDep) -> None:
    """Delete a rule; the leads it released stay in the general pool."""
    owners.delete_rule(actor, rule_id)


@router.post("/staleness-rules/{rule_id}/run", response_model=RunPublic)
def run_rule(rule_id: IntId, actor: LeadEditor, owners: OwnersDep) -> RunPublic:
    """Run the rule now (even when disabled): release the owned leads it matches and
    answer how many. Audited per lead and for the run."""
    return RunPublic(released=owners.run_rule(actor, rule_id))
