"""Campaign use cases: definition, start / stop / recycle with their snapshots, deletion,
progress, the error monitor and the assignment history.

Each use case is a function over one :class:`~callhopper.ports.Transaction` (so that a
tool may run several in one transaction); :class:`CampaignService` runs them in
transactions of its own and tells agents and the pusher what changed once committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ValidationError

from callhopper.domain.actors import Actor
from callhopper.domain.callbacks import CampaignCallback
from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaign_values import (
    ACTIVE_STATES,
    AgentProgress,
    Assignment,
    Campaign,
    CampaignProgress,
    CampaignSpec,
    ErrorRecord,
    ResultRow,
)
from callhopper.domain.campaigns import (
    SUPPORTED_MODES,
    CampaignAction,
    CampaignSettings,
    CampaignState,
    DialingMode,
    SortKey,
    check_sort,
    transition,
)
from callhopper.domain.contacts import ListSchema
from callhopper.domain.dialer import MAX_REPORT_DAYS, AbandonReport
from callhopper.domain.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from callhopper.domain.ownership import OwnerOrder
from callhopper.ports import Clock, Transaction, UnitOfWork
from callhopper.ports.notices import AgentNotices

_Model = TypeVar("_Model", bound=BaseModel)

#: Fields fixed once the campaign exists, with the reason given.
#: Records an export reads per transaction.
RESULTS_BATCH = 5000

IMMUTABLE = {
    "mode": "the dialing mode",
    "queue_id": "the queue",
    "list_id": "the contact list",
    "agent_owned_column": "the agent-owned column",
    "enforce_lead_ownership": "lead ownership",
}


@dataclass(frozen=True)
class CampaignChange:
    """A campaign after a change, with notices about what was adjusted on the way."""

    campaign: Campaign
    notices: list[str] = field(default_factory=list)


# --- definition ---------------------------------------------------------------------------------


def _checked_name(tx: Transaction, name: str, campaign_id: int | None = None) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput("the name is empty", field="name")
    other = tx.campaigns.named(name)
    if other is not None and other != campaign_id:
        raise AlreadyExists(f"a campaign named {name!r} already exists", field="name")
    return name


def _check_agent_owned(schema: ListSchema, mode: DialingMode, column: str | None) -> None:
    if column is None:
        return
    if not mode.serves_owners:
        raise InvalidInput(
            f"agent-owned records need a mode that dials for their owner, not {mode.value} "
            "(which dials before it knows which agent will take the call)",
            field="agent_owned_column",
        )
    if schema.agent_owned_column is None:
        raise InvalidInput("the contact list has no agent-owned column", field="agent_owned_column")
    if column != schema.agent_owned_column:
        raise InvalidInput(
            f"the contact list's agent-owned column is {schema.agent_owned_column!r}, "
            f"not {column!r}",
            field="agent_owned_column",
        )


def create_campaign(
    tx: Transaction, actor: Actor, spec: CampaignSpec, *, now: datetime
) -> Campaign:
    """Check and store a new campaign (off, never started); audited."""
    name = _checked_name(tx, spec.name)
    schema = tx.lists.get(spec.list_id).schema
    _check_agent_owned(schema, spec.mode, spec.agent_owned_column)
    if spec.enforce_lead_ownership:
        if not spec.mode.serves_owners:
            raise InvalidInput(
                f"lead ownership needs a mode that dials for the lead's owner, not "
                f"{spec.mode.value}",
                field="enforce_lead_ownership",
            )
        if spec.agent_owned_column is not None:
            raise InvalidInput(
                "a campaign delivers by lead owners or by an agent-owned column, not both",
                field="enforce_lead_ownership",
            )
    if spec.mode not in SUPPORTED_MODES:
        raise InvalidInput(
            f"dialing mode {spec.mode.value!r} is not available in this version; "
            f"available: {', '.join(sorted(m.value for m in SUPPORTED_MODES))}",
            field="mode",
        )
    spec.settings.check_for(spec.mode)
    tx.campaigns.check_references(spec.queue_id, spec.wrapup_set_id)
    check_sort(spec.sort, schema, spec.agent_owned_column)
    campaign = tx.campaigns.add(replace(spec, name=name), now=now)
    tx.audit.add(actor, "campaign.create", "campaign", campaign.id, now=now, after=campaign.view())
    return campaign


def patched(
    model: type[_Model], stored: Mapping[str, Any], sent: Mapping[str, Any], name: str
) -> _Model:
    """``stored`` with the fields ``sent`` replaced, validated as a whole."""
    try:
        return model.model_validate({**stored, **sent})
    except ValidationError as exc:
        messages = [
            ".".join([name, *map(str, e["loc"])]) + ": " + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        ]
        raise InvalidInput("; ".join(messages), field=name) from None


def update_campaign(
    tx: Transaction, actor: Actor, campaign_id: int, changes: Mapping[str, Any], *, now: datetime
) -> CampaignChange:
    """Change what may change; refuse mode, queue, list and agent-owned column by name.

    ``calling_window`` and ``settings`` are patched: the fields given replace those fields
    of the stored ones, and the result is validated as a whole."""
    campaign = tx.campaigns.get(campaign_id, lock=True)
    window = campaign.calling_window
    settings = campaign.settings
    notices: list[str] = []
    if changes.get("calling_window") is not None:
        window = patched(
            CallingWindow,
            campaign.calling_window.model_dump(mode="json"),
            changes["calling_window"],
            "calling_window",
        )
    if changes.get("settings") is not None:
        sent = patched(
            CampaignSettings,
            campaign.settings.model_dump(mode="json"),
            changes["settings"],
            "settings",
        )
        settings, notices = sent.with_forced_fifo()
        settings.check_for(campaign.mode)
    for name, label in IMMUTABLE.items():
        if name not in changes:
            continue
        current = getattr(campaign, name)
        wanted = changes[name]
        if wanted == current:
            continue
        if name == "agent_owned_column" and current is not None and wanted is None:
            raise Conflict(
                "an agent-owned campaign cannot be turned into a non-agent-owned one",
                field=name,
            )
        raise Conflict(f"{label} of a campaign cannot be changed once it exists", field=name)
    schema = tx.lists.get(campaign.list_id).schema
    after = replace(campaign, calling_window=window, settings=settings, updated_at=now)
    if changes.get("name") is not None:
        after = replace(after, name=_checked_name(tx, changes["name"], campaign.id))
    if changes.get("description") is not None:
        after = replace(after, description=changes["description"])
    if changes.get("wrapup_set_id") is not None:
        tx.campaigns.check_references(campaign.queue_id, changes["wrapup_set_id"])
        after = replace(after, wrapup_set_id=changes["wrapup_set_id"])
    if changes.get("sort") is not None:
        sort: tuple[SortKey, ...] = tuple(changes["sort"])
        check_sort(sort, schema, campaign.agent_owned_column)
        after = replace(after, sort=sort)
    if changes.get("owner_order") is not None:
        after = replace(after, owner_order=OwnerOrder(changes["owner_order"]))
    tx.campaigns.save(after)
    tx.audit.add(
        actor,
        "campaign.update",
        "campaign",
        campaign.id,
        now=now,
        before=campaign.view(),
        after=after.view(),
    )
    return CampaignChange(after, notices)


def delete_campaign(tx: Transaction, actor: Actor, campaign_id: int, *, now: datetime) -> None:
    """Delete a campaign that is not running; it owns nothing any more. Its assignment
    history stays."""
    campaign = tx.campaigns.get(campaign_id, lock=True)
    if campaign.state.value in ACTIVE_STATES:
        raise Conflict(
            f"the campaign is {campaign.state.value}: stop it and let it complete before "
            "deleting it",
            state=campaign.state.value,
        )
    tx.ownership.release(
        actor,
        campaign.list_id,
        [campaign.id],
        now=now,
        reason=f"campaign {campaign.name!r} deleted",
    )
    tx.audit.add(actor, "campaign.delete", "campaign", campaign.id, now=now, before=campaign.view())
    tx.campaigns.delete(campaign.id)


# --- life cycle ---------------------------------------------------------------------------------


def change_state(
    tx: Transaction, actor: Actor, campaign_id: int, action: CampaignAction, *, now: datetime
) -> Campaign:
    """Start, stop or recycle. The first start and every recycle take the snapshots."""
    campaign = tx.campaigns.get(campaign_id, lock=True)
    after = replace(campaign, state=transition(campaign.state, action), updated_at=now)
    if action is CampaignAction.START:
        after = replace(after, started_at=now)
        if campaign.pass_no == 0:
            after = replace(after, pass_no=1)
            after = replace(after, zones=tx.snapshots.take(after, now=now))
    elif action is CampaignAction.STOP:
        after = replace(after, stopped_at=now)
    elif action is CampaignAction.RECYCLE:
        after = replace(after, pass_no=campaign.pass_no + 1, recycled_at=now)
        after = replace(after, zones=tx.snapshots.take(after, now=now))
    tx.campaigns.save(after)
    if after.state is CampaignState.STOPPING:
        tx.campaigns.complete_if_drained(campaign.id, now=now)
    tx.audit.add(
        actor,
        f"campaign.{action.value}",
        "campaign",
        campaign.id,
        now=now,
        before=campaign.view(),
        after=after.view(),
    )
    return after


# --- the service --------------------------------------------------------------------------------


class CampaignService:
    """Campaign use cases, each in a transaction of its own."""

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        notices: AgentNotices,
        *,
        on_state_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.notices = notices
        #: Called after a start, stop or recycle commits (the pusher has work to look at).
        self.on_state_change = on_state_change

    def all(self) -> list[Campaign]:
        with self.uow.read() as tx:
            return tx.campaigns.all()

    def callbacks(self, campaign_id: int, *, due: bool) -> list[CampaignCallback]:
        """The campaign's scheduled callbacks; with ``due``, those whose time has come and
        that wait for their agent now (a personal callback is never given to another)."""
        with self.uow.read() as tx:
            tx.campaigns.get(campaign_id)
            return tx.callbacks.report(campaign_id, due_at=self.clock.now() if due else None)

    def get(self, campaign_id: int) -> Campaign:
        """The campaign; a stopping one whose last lease lapsed completes when looked at."""
        with self.uow.write() as tx:
            tx.campaigns.complete_if_drained(campaign_id, now=self.clock.now())
            return tx.campaigns.get(campaign_id)

    def create(self, actor: Actor, spec: CampaignSpec) -> CampaignChange:
        """A new campaign. LIFO with reinserted skips becomes FIFO, with a notice."""
        settings, notices = spec.settings.with_forced_fifo()
        with self.uow.write() as tx:
            campaign = create_campaign(
                tx, actor, replace(spec, settings=settings), now=self.clock.now()
            )
        return CampaignChange(campaign, notices)

    def update(self, actor: Actor, campaign_id: int, changes: Mapping[str, Any]) -> CampaignChange:
        with self.uow.write() as tx:
            return update_campaign(tx, actor, campaign_id, changes, now=self.clock.now())

    def set_calling_window(
        self, actor: Actor, campaign_ids: Sequence[int], window: Mapping[str, Any]
    ) -> list[Campaign]:
        """Give each campaign of ``campaign_ids`` the calling window ``window`` (its fields,
        as ``update`` patches them), in one transaction: all of them change, or none."""
        if not campaign_ids:
            raise InvalidInput("choose at least one campaign", field="campaign_ids")
        now = self.clock.now()
        with self.uow.write() as tx:
            return [
                update_campaign(tx, actor, c, {"calling_window": dict(window)}, now=now).campaign
                for c in dict.fromkeys(campaign_ids)
            ]

    def delete(self, actor: Actor, campaign_id: int) -> None:
        with self.uow.write() as tx:
            delete_campaign(tx, actor, campaign_id, now=self.clock.now())

    def change_state(self, actor: Actor, campaign_id: int, action: CampaignAction) -> Campaign:
        """Start, stop or recycle; the queue's agents hear of it once it commits."""
        with self.uow.write() as tx:
            campaign = change_state(tx, actor, campaign_id, action, now=self.clock.now())
            agents = tx.campaigns.queue_agents(campaign.queue_id)
        self.notices.campaign_changed(agents, campaign.id, action.value)
        self.on_state_change()
        return campaign

    def progress(self, campaign_id: int) -> CampaignProgress:
        """Campaign totals, and per owner agent for agent-owned campaigns."""
        with self.uow.read() as tx:
            campaign = tx.campaigns.get(campaign_id)
            total, per_agent = tx.campaigns.progress(campaign)
            names = tx.campaigns.user_names(list(per_agent))
        agents = [
            AgentProgress(user_id=names[a][0], display_name=names[a][1], progress=p)
            for a, p in per_agent.items()
        ]
        agents.sort(key=lambda item: item.user_id)
        return CampaignProgress(campaign, total, agents)

    def abandon_rate(self, campaign_id: int, *, days: int = 30, tz: str = "UTC") -> AbandonReport:
        """The campaign's abandon rate per day (in time zone ``tz``) over the last ``days``
        days up to today, and over the whole period (the rolling window): calls answered
        by a person, and those abandoned (not connected to an agent within the grace)."""
        if not 1 <= days <= MAX_REPORT_DAYS:
            raise InvalidInput(f"days must be between 1 and {MAX_REPORT_DAYS}", field="days")
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"{tz!r} is not a time zone", field="tz") from None
        last = self.clock.now().astimezone(zone).date()
        first = last - timedelta(days=days - 1)
        with self.uow.read() as tx:
            campaign = tx.campaigns.get(campaign_id)
            found = tx.calls.abandon_days(campaign_id, first, last, tz)
        return AbandonReport(
            campaign.id, campaign.settings.abandon_target, tuple(found), first=first, last=last
        )

    def results(self, campaign_id: int, *, batch: int = RESULTS_BATCH) -> Iterator[ResultRow]:
        """Every record of the campaign with its results, in record order, read ``batch``
        at a time in transactions of their own (so that an export holds one batch in
        memory, and no transaction for its whole length)."""
        with self.uow.read() as tx:
            tx.campaigns.get(campaign_id)
        after = 0
        while True:
            with self.uow.read() as tx:
                rows = tx.campaigns.results(campaign_id, after_id=after, limit=batch)
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1].record_id

    def error_counts(self, campaign_id: int) -> dict[str, int]:
        """Undeliverable records by reason."""
        with self.uow.read() as tx:
            tx.campaigns.get(campaign_id)
            return tx.campaigns.error_counts(campaign_id)

    def error_records(
        self, campaign_id: int, *, reason: str | None, after_id: int, limit: int
    ) -> list[ErrorRecord]:
        with self.uow.read() as tx:
            campaign = tx.campaigns.get(campaign_id)
            return tx.campaigns.error_records(
                campaign, reason=reason, after_id=after_id, limit=limit
            )

    def assignment_history(
        self,
        *,
        campaign_id: int | None,
        record_id: int | None,
        agent: str | None,
        before_id: int | None,
        limit: int,
    ) -> list[Assignment]:
        """Every delivery, newest first (``agent``: a user id)."""
        with self.uow.read() as tx:
            agent_id = None
            if agent is not None:
                agent_id = tx.owners.user_key(agent)
                if agent_id is None:
                    raise NotFound(f"no user with user_id {agent!r}", field="user_id")
            return tx.campaigns.assignments(
                campaign_id=campaign_id,
                record_id=record_id,
                agent_id=agent_id,
                before_id=before_id,
                limit=limit,
            )
