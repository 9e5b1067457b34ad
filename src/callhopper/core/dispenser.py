"""The dispensing core: which record an agent works next, and what the agent does with it.

Every operation is one transaction. The claim itself is one SQL statement
(:mod:`callhopper.store.dispensing`); around it this service applies the rules:
the campaign must be running, the agent must be in its queue, only records
whose contact is inside the calling window are eligible, an agent holds at
most one record per campaign, and a lease lasts the campaign's lease timeout
from the agent's last action on it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Text, and_, bindparam, cast, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from callhopper.dnc_service import NoValidator, NumberValidator
from callhopper.domain.actors import SYSTEM, Actor
from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaign_ownership import OwnershipSettings
from callhopper.domain.campaigns import CampaignSettings, CampaignState, Channel, DialingMode
from callhopper.domain.contacts import ListSchema
from callhopper.domain.dispositions import check_edits, check_note, dispose
from callhopper.domain.errors import CallhopperError, Conflict, InvalidInput, NotFound
from callhopper.domain.phones import PhoneError, normalise_phone
from callhopper.domain.predial import DialPlan, combine_verdicts, dialling_order, plan_dial
from callhopper.domain.records import RecordStatus
from callhopper.domain.rights import Right
from callhopper.domain.wrapup import WrapupCodeSpec
from callhopper.events import AgentEvent, LocalBus
from callhopper.ports import Clock
from callhopper.store import agent_state, callbacks, dnc, hopper, ownership, workflows
from callhopper.store import dispensing as sql
from callhopper.store.agent_state import PUSH_MODES
from callhopper.store.audit import audit
from callhopper.store.campaigns import (
    ACTIVE_STATES,
    complete_if_drained,
)
from callhopper.store.db import Database
from callhopper.store.models import (
    AgentSession,
    Callback,
    Campaign,
    CampaignRecord,
    ContactList,
    Interaction,
    QueueMember,
    Record,
    User,
    WorkflowRule,
    table_of,
)
from callhopper.store.records import record_data_update
from callhopper.store.types import UTCDateTime, json_rows, utc_from_json
from callhopper.store.users import actor_of
from callhopper.store.wrapup import codes_json, specs_from_json

HISTORY_LIMIT = 50

logger = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True)
class FieldView:
    name: str
    type: str
    editable: bool
    required: bool
    options: tuple[str, ...]
    value: str | None


@dataclass(frozen=True)
class PhoneView:
    index: int
    column: str
    type: str
    number: str


@dataclass(frozen=True)
class HistoryItem:
    at: datetime
    kind: str
    campaign_name: str
    agent_user_id: str | None
    number: str | None
    code: str | None
    note: str


@dataclass(frozen=True)
class Delivery:
    """A record as its agent sees it while it is delivered to them."""

    campaign_id: int
    campaign_name: str
    record_id: int
    leased_at: datetime
    lease_expires_at: datetime
    timezone: str | None
    local_time: datetime | None
    calling_window_open: bool
    fields: list[FieldView]
    phones: list[PhoneView]
    attempts: int
    #: Set when the record was already handled in an earlier pass (after a recycle).
    already_handled: dict[str, Any] | None
    pending_wrapup: dict[str, Any] | None
    history: list[HistoryItem]
    wrapup_codes: list[WrapupCodeSpec]
    allow_skip: bool
    mode: str
    #: Push preview: accept before then, or the record goes back to the top of the list.
    accept_by: datetime | None
    #: Preview timeout: the first number is dialled automatically then (if not called).
    preview_deadline: datetime | None
    #: The callback that brought the record back, or the one scheduled on it.
    callback: dict[str, Any] | None
    #: The caller IDs the agent may pick on Call, and the one used when they pick none.
    caller_ids: tuple[str, ...] = ()
    default_caller_id: str | None = None


@dataclass(frozen=True)
class NoRecord:
    """Why Get Record found nothing to deliver now."""

    reason: str
    message: str
    next_retry_at: datetime | None = None


@dataclass(frozen=True)
class MyCampaign:
    id: int
    name: str
    description: str
    state: str
    mode: str
    delivery: str
    logged_in: bool
    receiving: bool
    record_id: int | None


@dataclass(frozen=True)
class DialResult:
    """What Call did after pre-dial validation (SPEC §4.5)."""

    record_id: int
    #: The number dialled; ``None`` when none could be (the record is then closed).
    number: str | None
    phone_index: int | None
    #: ``clear``, or which of the four DNC cases happened (``dnc_next`` …).
    case: str
    message: str
    #: Numbers passed over, each with its verdict and message.
    skipped: list[dict[str, Any]]
    #: ``dnc`` or ``not_validated`` when the record was closed instead of dialled.
    closed: str | None = None
    #: The caller ID the call shows (None: the campaign has none, or nothing was dialled).
    caller_id: str | None = None


@dataclass(frozen=True)
class _Context:
    campaign: Campaign
    schema: ListSchema
    settings: CampaignSettings
    window: CallingWindow
    #: The contact list's campaign-ownership settings (SPEC §6).
    ownership: OwnershipSettings
    codes: Mapping[str, WrapupCodeSpec]
    #: Whether any workflow rule is enabled (else Done need not look for rules to fire).
    has_rules: bool


@lru_cache(maxsize=1024)
def _parse(
    schema: str, settings: str, window: str, ownership: str | None
) -> tuple[ListSchema, CampaignSettings, CallingWindow, OwnershipSettings]:
    """A campaign's JSON documents as models; every model is frozen, so they are shared."""
    return (
        ListSchema.model_validate_json(schema),
        CampaignSettings.model_validate_json(settings),
        CallingWindow.model_validate_json(window),
        OwnershipSettings.model_validate_json(ownership or "{}"),
    )


class Dispenser:
    """Agent-facing operations of preview campaigns."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        bus: LocalBus | None = None,
        on_agents_change: Callable[[int], None] | None = None,
        on_work: Callable[[int], None] | None = None,
        on_webhooks_queued: Callable[[], None] | None = None,
        validator: NumberValidator | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        #: The external pre-dial validation service (SPEC §4.5), if one is configured.
        self.validator: NumberValidator = validator if validator is not None else NoValidator()
        #: Where agents' real-time events go (deliveries, state changes).
        self.bus = bus if bus is not None else LocalBus()
        #: Called with a campaign id when an agent logs in or out (wakes the hopper loader).
        self.on_agents_change = on_agents_change
        #: Called with a campaign id when a record or an agent becomes free (wakes the pusher).
        self.on_work = on_work
        #: Called after a Done whose workflow rules queued webhooks has committed (wakes the
        #: webhook sender).
        self.on_webhooks_queued = on_webhooks_queued

    def _work(self, campaign_id: int) -> None:
        if self.on_work is not None:
            self.on_work(campaign_id)

    def _agents_changed(self, campaign_id: int) -> None:
        if self.on_agents_change is not None:
            self.on_agents_change(campaign_id)

    # --- campaigns and sessions ---------------------------------------------------------------

    def my_campaigns(self, agent: Actor) -> list[MyCampaign]:
        """Running campaigns of the agent's queues (SPEC §4.1, *My Campaigns*)."""
        agent_id = _agent_id(agent)
        with self.db.read() as session:
            rows = session.execute(
                select(Campaign, AgentSession)
                .join(QueueMember, QueueMember.queue_id == Campaign.queue_id)
                .outerjoin(
                    AgentSession,
                    and_(AgentSession.campaign_id == Campaign.id, AgentSession.user_id == agent_id),
                )
                .where(QueueMember.user_id == agent_id, Campaign.state.in_(ACTIVE_STATES))
                .order_by(Campaign.name)
            ).all()
            leases = dict(
                session.execute(
                    select(CampaignRecord.campaign_id, CampaignRecord.record_id).where(
                        CampaignRecord.lease_agent_id == agent_id,
                        CampaignRecord.status == "leased",
                    )
                ).all()
            )
        return [
            MyCampaign(
                id=c.id,
                name=c.name,
                description=c.description,
                state=c.state,
                mode=c.mode,
                delivery=DialingMode(c.mode).delivery,
                logged_in=s is not None,
                receiving=s.receiving if s is not None else False,
                record_id=leases.get(c.id),
            )
            for c, s in rows
        ]

    def login(self, agent: Actor, campaign_id: int) -> None:
        with self.db.write() as session:
            ctx = self._context(session, agent, campaign_id)
            _ensure_session(session, ctx.campaign.id, _agent_id(agent), self.clock.now(), True)
        self._agents_changed(campaign_id)

    def logout(self, agent: Actor, campaign_id: int) -> None:
        """Leave the campaign. A record still delivered goes back; its owner does not change."""
        now = self.clock.now()
        agent_id = _agent_id(agent)
        with self.db.write() as session:
            ctx = self._context(session, agent, campaign_id)
            record_id = sql.current_lease(session, ctx.campaign.id, agent_id)
            if record_id is not None:
                sql.release(session, ctx.campaign.id, record_id, agent_id, status="ready")
                sql.close_assignment(session, ctx.campaign.id, record_id, now=now, outcome="logout")
            session.execute(
                delete(AgentSession).where(
                    AgentSession.campaign_id == ctx.campaign.id, AgentSession.user_id == agent_id
                )
            )
            _complete_if_stopping(session, ctx, now)
        self._agents_changed(campaign_id)

    # --- getting a record ---------------------------------------------------------------------

    def get_record(self, agent: Actor, campaign_id: int) -> Delivery | NoRecord:
        """Get Record: the record the agent already holds here, else their next one."""
        for attempt in range(2):
            try:
                result = _again_after_deadlock(lambda: self._get_record(agent, campaign_id))
                if isinstance(result, NoRecord) and result.reason == "hopper_empty":
                    self._agents_changed(campaign_id)  # a new agent, or a drained hopper
                return result
            except IntegrityError as exc:
                # A second Get Record of the same agent raced this one and leased first:
                # the one-lease-per-agent index refused ours. Answer with theirs.
                if attempt or "uq_campaign_records_one_lease_per_agent" not in str(exc.orig):
                    raise
        raise AssertionError("unreachable")

    def _get_record(self, agent: Actor, campaign_id: int) -> Delivery | NoRecord:
        agent_id = _agent_id(agent)
        with self.db.write() as session:
            ctx = self._context(session, agent, campaign_id)
            now = self.clock.now()  # read in the transaction: leases are stamped in order
            campaign = ctx.campaign
            held = _receive_and_held(session, campaign.id, agent_id, now)
            until = now + timedelta(seconds=ctx.settings.lease_timeout_s)
            if held is not None:
                sql.renew(session, campaign.id, held, agent_id, until)
                return self._delivery(session, ctx, held, agent_id, now)
            if campaign.state != CampaignState.ON.value:
                return NoRecord(
                    "campaign_not_running",
                    f"the campaign is {campaign.state}: no new records are delivered",
                )
            if DialingMode(campaign.mode) is not DialingMode.PREVIEW:
                # Pushed modes: Get Record turns receiving on; records come on the channel.
                self._work(campaign.id)
                return NoRecord(
                    "pushed",
                    "records of this campaign are pushed to you on the real-time channel "
                    + (
                        "while you are ready on outbound_preview"
                        if DialingMode(campaign.mode) is DialingMode.PUSH_PREVIEW
                        else "until you Stop"
                    ),
                )
            record_id = self._claim(session, ctx, agent_id, now, until)
            if record_id is None:
                if campaign.enforce_lead_ownership:
                    return NoRecord(
                        "hopper_empty",
                        "no lead of yours and none matching your skills is in the hopper now; "
                        "the next hopper load adds more",
                    )
                return self._why_nothing(session, ctx, agent_id, now)
            return self._delivery(session, ctx, record_id, agent_id, now)

    def _claim(
        self,
        session: Session,
        ctx: _Context,
        agent_id: int,
        now: datetime,
        until: datetime,
        accept_by: datetime | None = None,
    ) -> int | None:
        """Lease the agent's next record (the shared selection path of every mode)."""
        campaign = ctx.campaign
        zones = sorted(ctx.window.open_zones(now).intersection(campaign.zones))
        if campaign.enforce_lead_ownership:
            lead_filter = hopper.agent_filters(session, [agent_id], ctx.settings)[agent_id]
            record_id = hopper.claim(
                session, campaign, agent_id, lead_filter, now=now, until=until, zones=zones
            )
        else:
            record_id = sql.claim(
                session,
                sql.ClaimRequest(
                    campaign_id=campaign.id,
                    agent_id=agent_id,
                    owned=campaign.agent_owned_column is not None,
                    now=now,
                    lease_until=until,
                    zones=zones,
                    pass_no=campaign.pass_no,
                ),
            )
        if record_id is None:
            return None
        if accept_by is not None:
            session.execute(
                update(CampaignRecord)
                .where(
                    CampaignRecord.campaign_id == campaign.id,
                    CampaignRecord.record_id == record_id,
                )
                .values(accept_by=accept_by)
            )
        sql.deliver(session, campaign, record_id, agent_id, now=now)
        return record_id

    def _why_nothing(
        self, session: Session, ctx: _Context, agent_id: int, now: datetime
    ) -> NoRecord:
        campaign = ctx.campaign
        cr = CampaignRecord
        owner = cr.agent_id == agent_id if campaign.agent_owned_column else cr.agent_id.is_(None)
        mine = and_(cr.campaign_id == campaign.id, owner)
        # A record inside the window that the claim passed over is being claimed by another
        # agent right now (PostgreSQL skips locked rows): it does not wait for the window.
        zones = sorted(ctx.window.open_zones(now))
        eligible = session.scalar(
            select(func.count()).where(
                mine,
                or_(cr.tz.is_(None), cr.tz.not_in(zones)),
                or_(
                    cr.status == "ready",
                    and_(cr.status == "leased", cr.lease_expires_at <= now),
                    and_(cr.status == "waiting", cr.retry_at <= now),
                ),
            )
        )
        if eligible:
            return NoRecord(
                "outside_calling_window",
                f"{eligible} record(s) wait until their contacts are inside the calling window "
                f"({ctx.window.describe()})",
            )
        next_retry = session.scalar(
            select(func.min(cr.retry_at)).where(mine, cr.status == "waiting", cr.retry_at > now)
        )
        if next_retry is not None:
            return NoRecord(
                "waiting_for_retry",
                "every record is handled for now; the next retry is due later",
                next_retry_at=next_retry,
            )
        return NoRecord(
            "list_exhausted",
            "every record of this pass is handled; the campaign needs a recycle for more",
        )

    def deliveries(self, agent: Actor) -> list[Delivery]:
        """Every record delivered to the agent now (what a reconnecting client resumes)."""
        now = self.clock.now()
        agent_id = _agent_id(agent)
        with self.db.read() as session:
            pairs = session.execute(
                select(CampaignRecord.campaign_id, CampaignRecord.record_id)
                .where(CampaignRecord.lease_agent_id == agent_id, CampaignRecord.status == "leased")
                .order_by(CampaignRecord.campaign_id)
            ).all()
            result = []
            for campaign_id, record_id in pairs:
                ctx = self._context(session, agent, campaign_id, require_member=False)
                result.append(self._delivery(session, ctx, record_id, agent_id, now))
            return result

    def delivery(self, agent: Actor, campaign_id: int, record_id: int) -> Delivery:
        now = self.clock.now()
        agent_id = _agent_id(agent)
        with self.db.read() as session:
            ctx = self._context(session, agent, campaign_id, require_member=False)
            return self._delivery(session, ctx, record_id, agent_id, now)

    def keepalive(self, agent: Actor, campaign_id: int, record_id: int) -> datetime:
        """Keep a delivered record: its lease runs for the lease timeout from now."""
        now = self.clock.now()
        with self.db.write() as session:
            ctx = self._context(session, agent, campaign_id, require_member=False)
            until = now + timedelta(seconds=ctx.settings.lease_timeout_s)
            sql.renew(session, campaign_id, record_id, _agent_id(agent), until)
            return until

    # --- pushed delivery (push preview, direct push preview) ----------------------------------

    def push_many(
        self, campaign_id: int, agent_ids: Sequence[int], *, shared: bool
    ) -> tuple[list[tuple[int, int]], bool]:
        """Push the next record to each of these agents (the pusher's waiting agents: in the
        queue, active, ready or receiving), in one transaction that reads the campaign once.
        ``shared``: every agent draws on the same records (no owners, no reservations), so
        the first agent who gets nothing ends the round. Returns the (agent, record) pairs
        pushed, and whether the campaign has nothing more for these agents now."""
        pushed: list[tuple[int, int]] = []
        with self.db.write() as session:
            ctx = self._context(session, SYSTEM, campaign_id, require_member=False)
            if ctx.campaign.state != CampaignState.ON.value:
                return pushed, True
            now = self.clock.now()
            for agent_id in agent_ids:
                try:
                    with session.begin_nested():
                        record_id = self._push_claim(session, ctx, agent_id, now)
                except IntegrityError:
                    # Another process pushed to them since the pusher found them waiting:
                    # an agent holds one lease per campaign (a unique index).
                    continue
                if record_id is None:
                    if shared:
                        return pushed, True
                    continue
                # Published outside the savepoint: one that rolls back would still send it.
                self._publish_push(session, ctx, agent_id, record_id, now)
                pushed.append((agent_id, record_id))
        return pushed, False

    def _push_claim(
        self, session: Session, ctx: _Context, agent_id: int, now: datetime
    ) -> int | None:
        """Lease the agent's next record of a pushed campaign (with push preview's accept
        deadline)."""
        accept_by = (
            now + timedelta(seconds=ctx.settings.accept_timeout_s)
            if DialingMode(ctx.campaign.mode) is DialingMode.PUSH_PREVIEW
            else None
        )
        until = accept_by or now + timedelta(seconds=ctx.settings.lease_timeout_s)
        return self._claim(session, ctx, agent_id, now, until, accept_by)

    def _push_next(self, session: Session, ctx: _Context, agent_id: int, now: datetime) -> bool:
        """After a Done in a pushed campaign: the agent's next record at once, in the Done's
        transaction, when they still wait for pushes and nobody has waited longer (then the
        pusher serves the longest wait first). Whether a record was pushed."""
        if ctx.campaign.mode not in PUSH_MODES or ctx.campaign.state != CampaignState.ON.value:
            return False
        # Records of one owner are theirs alone: another agent's wait does not compete.
        alone = ctx.campaign.agent_owned_column is None
        if not agent_state.first_in_line(session, ctx.campaign.id, agent_id, alone=alone):
            return False  # not ready, the toggle is off, or someone else waits too
        record_id = self._push_claim(session, ctx, agent_id, now)
        if record_id is None:
            return False
        self._publish_push(session, ctx, agent_id, record_id, now)
        return True

    def _publish_push(
        self, session: Session, ctx: _Context, agent_id: int, record_id: int, now: datetime
    ) -> None:
        """Tell the agent's channel about a push, once it commits. The delivery is read here,
        in the pushing transaction, so that this process's socket handler sends it as it is
        without a second transaction (other processes read it back)."""
        delivery = self._delivery(session, ctx, record_id, agent_id, now)
        self.bus.publish(
            AgentEvent(agent_id, "delivery", ctx.campaign.id, record_id, snapshot=delivery),
            session,
        )

    def accept(self, agent: Actor, campaign_id: int, record_id: int) -> DialResult | None:
        """Accept a pushed record. In direct push preview accepting dials it."""
        agent_id = _agent_id(agent)
        with self.db.write() as session:
            ctx = self._context(session, agent, campaign_id, require_member=False)
            row = sql.leased(session, campaign_id, record_id, agent_id, lock=True)
            now = self.clock.now()
            if row.accept_by is not None:
                row.accept_by = None
                row.leased_at = now  # the preview (and its timeout) starts now
                session.flush()
                sql.renew(session, campaign_id, record_id, agent_id, self._until(ctx, now))
        if DialingMode(ctx.campaign.mode) is DialingMode.DIRECT_PUSH_PREVIEW:
            return self.call(agent, campaign_id, record_id)
        return None

    def reject(
        self, agent: Actor, campaign_id: int, record_id: int, *, reason: str = "rejected"
    ) -> None:
        """Reject a pushed record: it goes back to the top of the list; in push preview the
        agent is set not ready on outbound_preview."""
        agent_id = _agent_id(agent)
        with self.db.write() as session:
            ctx = self._context(session, agent, campaign_id, require_member=False)
            now = self.clock.now()
            self._give_back_on_top(session, ctx, record_id, agent_id, now, reason)
        self._work(campaign_id)

    def _give_back_on_top(
        self,
        session: Session,
        ctx: _Context,
        record_id: int,
        agent_id: int,
        now: datetime,
        reason: str,
    ) -> None:
        top = (
            select(func.coalesce(func.min(CampaignRecord.rank), 0) - 1)
            .where(CampaignRecord.campaign_id == ctx.campaign.id)
            .scalar_subquery()
        )
        sql.release(
            session, ctx.campaign.id, record_id, agent_id, status="ready", rank=top, accept_by=None
        )
        sql.close_assignment(session, ctx.campaign.id, record_id, now=now, outcome=reason)
        callbacks.unmark_delivered(session, ctx.campaign.id, record_id, now)
        if ctx.campaign.enforce_lead_ownership:
            owner = session.scalar(select(Record.owner_id).where(Record.id == record_id))
            hopper.reinsert(
                session,
                ctx.campaign.id,
                record_id,
                agent_id if owner == agent_id else None,
                now,
                first=True,
            )
        self.bus.publish(
            AgentEvent(agent_id, "delivery_ended", ctx.campaign.id, record_id, reason), session
        )
        mode = DialingMode(ctx.campaign.mode)
        if mode is DialingMode.PUSH_PREVIEW:
            agent_state.set_ready(session, agent_id, Channel.OUTBOUND_PREVIEW, False, now)
            self.bus.publish(AgentEvent(agent_id, "state", reason=reason), session)
        elif mode is DialingMode.DIRECT_PUSH_PREVIEW:
            # The toggle goes off, or the record on top would come straight back to them.
            _ensure_session(session, ctx.campaign.id, agent_id, now, receiving=False)
            self.bus.publish(AgentEvent(agent_id, "state", ctx.campaign.id, reason=reason), session)

    def expire_unaccepted(self) -> int:
        """Pushed records not accepted in time go back on top; their agents, not ready."""
        now = self.clock.now()
        with self.db.read() as session:
            late = session.execute(
                select(
                    CampaignRecord.campaign_id,
                    CampaignRecord.record_id,
                    CampaignRecord.lease_agent_id,
                ).where(CampaignRecord.status == "leased", CampaignRecord.accept_by <= now)
            ).all()
        done = 0
        for campaign_id, record_id, agent_id in late:
            if agent_id is None:
                continue
            with self.db.write() as session:
                # As the system: a push to an agent deactivated since comes back all the same.
                ctx = self._context(session, SYSTEM, campaign_id, require_member=False)
                row = session.get(CampaignRecord, (campaign_id, record_id), populate_existing=True)
                if row is None or row.lease_agent_id != agent_id or row.accept_by is None:
                    continue  # accepted, rejected or taken meanwhile
                self._give_back_on_top(session, ctx, record_id, agent_id, now, "accept_timeout")
                done += 1
            self._work(campaign_id)
        return done

    def auto_dial_due(self) -> int:
        """Preview timeout (SPEC §4.1): records previewed that long are dialled for the agent."""
        now = self.clock.now()
        cr = CampaignRecord
        with self.db.read() as session:
            timeouts = {
                campaign_id: timeout
                for campaign_id, raw in session.execute(select(Campaign.id, Campaign.settings))
                if (timeout := CampaignSettings.model_validate(raw).preview_timeout_s) is not None
            }
            due = []
            for campaign_id, timeout in timeouts.items():
                # Only the records due now, not every record being previewed.
                rows = session.execute(
                    select(cr.record_id, cr.lease_agent_id)
                    .join(User, User.id == cr.lease_agent_id)
                    .where(
                        cr.campaign_id == campaign_id,
                        cr.status == "leased",
                        cr.accept_by.is_(None),
                        or_(cr.called_at.is_(None), cr.called_at < cr.leased_at),
                        cr.leased_at <= now - timedelta(seconds=timeout),
                        User.active.is_(True),  # never dial for an agent who has left
                    )
                ).all()
                due += [(self._actor(session, a), campaign_id, r) for r, a in rows if a is not None]
        dialled = 0
        for actor, campaign_id, record_id in due:
            try:
                self.call(actor, campaign_id, record_id, auto=True)
            except CallhopperError:
                continue  # taken back, outside the window, or already gone: nothing to dial
            dialled += 1
        return dialled

    def set_receiving(self, agent: Actor, campaign_id: int, on: bool) -> None:
        """Direct push preview's Get Record / Stop toggle."""
        agent_id = _agent_id(agent)
        with self.db.write() as session:
            self._context(session, agent, campaign_id)
            _ensure_session(session, campaign_id, agent_id, self.clock.now(), receiving=on)
            self.bus.publish(AgentEvent(agent_id, "state", campaign_id), session)
        self._agents_changed(campaign_id)
        self._work(campaign_id)

    def set_channel(self, agent: Actor, channel: Channel, ready: bool) -> dict[Channel, bool]:
        """Ready / not ready on a channel (SPEC §2)."""
        agent_id = _agent_id(agent)
        agent.require(Right.AGENT_WORK)
        with self.db.write() as session:
            agent_state.set_ready(session, agent_id, channel, ready, self.clock.now())
            state = agent_state.channels(session, agent_id)
            self.bus.publish(AgentEvent(agent_id, "state"), session)
        if ready:
            self._work(0)
        return state

    def channels(self, agent: Actor) -> dict[Channel, bool]:
        with self.db.read() as session:
            return agent_state.channels(session, _agent_id(agent))

    def receiving(self, agent: Actor, campaign_id: int) -> bool:
        """Whether the agent's Get Record / Stop toggle is on in the campaign (off when they
        are not logged into it)."""
        with self.db.read() as session:
            on = session.scalar(
                select(AgentSession.receiving).where(
                    AgentSession.campaign_id == campaign_id,
                    AgentSession.user_id == _agent_id(agent),
                )
            )
        return bool(on)

    # --- callbacks ----------------------------------------------------------------------------

    def schedule_callback(
        self,
        agent: Actor,
        campaign_id: int,
        record_id: int,
        *,
        at: datetime,
        kind: str,
        number: str | None = None,
        note: str = "",
    ) -> Callback:
        """Schedule (or change) the callback of the record with the agent; it applies at Done."""
        agent_id = _agent_id(agent)
        with self.db.write() as session:
            ctx = self._context(session, agent, campaign_id, require_member=False)
            row = sql.leased(session, campaign_id, record_id, agent_id, lock=True)
            now = self.clock.now()
            record = _record(session, record_id)
            plan = callbacks.plan(
                at=at,
                kind=kind,
                record=record,
                owner_id=_owner_of(ctx, row, record),
                agent_id=agent_id,
                window=ctx.window,
                now=now,
            )
            scheduled = callbacks.schedule(
                session,
                campaign_id=campaign_id,
                record=record,
                created_by=agent_id,
                plan_=plan,
                number=number,
                region=ctx.schema.default_region,
                note=check_note(note),
                now=now,
            )
            sql.renew(session, campaign_id, record_id, agent_id, self._until(ctx, now))
            return scheduled

    def cancel_callback(self, agent: Actor, campaign_id: int, record_id: int) -> bool:
        agent_id = _agent_id(agent)
        with self.db.write() as session:
            self._context(session, agent, campaign_id, require_member=False)
            sql.leased(session, campaign_id, record_id, agent_id, lock=True)
            pending = callbacks.pending(session, campaign_id, record_id)
            if pending is None or pending.status != "scheduled":
                return False  # none, or the one being handled now
            return callbacks.cancel(session, campaign_id, record_id, self.clock.now())

    @staticmethod
    def _actor(session: Session, agent_id: int) -> Actor:
        user = session.get(User, agent_id)
        if user is None or not user.active:
            raise NotFound(f"no active agent {agent_id}")
        return actor_of(session, user)

    # --- actions on a delivered record ----------------------------------------------------------

    def call(
        self,
        agent: Actor,
        campaign_id: int,
        record_id: int,
        *,
        phone_index: int | None = None,
        number: str | None = None,
        caller_id: str | None = None,
        auto: bool = False,
    ) -> DialResult:
        """Call: dial one of the record's numbers (or a typed one where allowed); ``auto``
        when the preview timeout dials for the agent.

        Every number is validated first (SPEC §4.5): against the campaign's DNC lists and
        the external validation service. A number on a list, or one that could not be
        validated, is never dialled: the next number is, and when none is left the record
        is closed as ``dnc`` or ``not_validated``. The service is asked before the
        transaction, so that a slow service never holds the database. ``caller_id``: one of
        the campaign's caller IDs (SPEC §4.2), else its default.
        """
        agent_id = _agent_id(agent)
        with self.db.read() as session:
            ctx = self._context(session, agent, campaign_id, require_member=False)
            sql.leased(session, campaign_id, record_id, agent_id)
            ctx.settings.caller_id(caller_id)  # a caller ID not offered: refused before all
            callback_number = _callback_number(session, campaign_id, record_id)
            wanted = self._candidates(
                ctx, _record(session, record_id), phone_index, number, callback_number
            )
        try:
            external = self.validator.check([n for _, n in wanted])
        except Exception:  # the port must not raise; if it does, nothing was validated
            logger.exception("pre-dial validation failed")
            external = {}
        closed_event = None
        with self.db.write() as session:
            ctx = self._context(session, agent, campaign_id, require_member=False)
            lease = sql.leased(session, campaign_id, record_id, agent_id, lock=True)
            # Dialling and claiming ownership of one record take turns (see done()).
            record = sql.lock_record(session, record_id)
            now = self.clock.now()
            refusal = _take_back_from_non_owner(session, ctx, lease, record, agent_id, now)
            if refusal is None:
                window = ctx.window
                if record.tz is None or not window.is_open(now, record.tz):
                    raise Conflict(
                        f"the contact is outside the calling window ({window.describe()}) in "
                        f"{record.tz or 'an unknown time zone'}; the call was not placed",
                        code="outside_calling_window",
                    )
                refusal = _take_back_if_not_ours(session, campaign_id, record_id, agent_id, now)
            if refusal is None:
                callback_number = _callback_number(session, campaign_id, record_id)
                candidates = self._candidates(ctx, record, phone_index, number, callback_number)
                shown = ctx.settings.caller_id(caller_id)
                numbers = [n for _, n in candidates]
                internal = dnc.dnc_numbers_for_campaign(session, campaign_id, numbers)
                verdicts = combine_verdicts(numbers, internal, external)
                plan = plan_dial(candidates, verdicts.__getitem__)
                result = DialResult(
                    record_id=record_id,
                    number=plan.number,
                    phone_index=plan.phone_index,
                    case=plan.case.value,
                    message=plan.message or "",
                    skipped=[
                        {
                            "number": k.number,
                            "phone_index": k.phone_index,
                            "verdict": k.verdict.value,
                            "message": k.message,
                        }
                        for k in plan.skipped
                    ],
                    closed=plan.close_reason.value if plan.close_reason else None,
                    caller_id=shown if plan.number is not None else None,
                )
                if plan.number is not None:
                    self._dialled(session, ctx, record, agent_id, plan.number, shown, now, auto)
                elif number is not None:
                    # A typed number that may not be dialled: the record's own may be fine.
                    refusal = Conflict(plan.message or "", code=f"number_{plan.case.value}")
                else:
                    self._close_undialable(session, ctx, record_id, agent_id, plan, now)
                    closed_event = AgentEvent(
                        agent_id, "delivery_ended", campaign_id, record_id, result.closed
                    )
        if refusal is not None:
            raise refusal  # after the commit: the record has been taken back
        if closed_event is not None:
            self.bus.publish(closed_event)
            self._work(campaign_id)
        return result

    def _candidates(
        self,
        ctx: _Context,
        record: Record,
        phone_index: int | None,
        number: str | None,
        callback_number: str | None = None,
    ) -> list[tuple[int | None, str]]:
        """The numbers to try, in order: a typed number alone (where the campaign allows
        it); else the record's numbers, the chosen one first; else, for a callback with
        its own number, that number, then the record's."""
        if number is not None:
            if not ctx.settings.allow_manual_dial:
                raise Conflict(
                    "this campaign does not allow dialling a new number",
                    code="manual_dial_not_allowed",
                )
            try:
                return [(None, normalise_phone(number, ctx.schema.default_region))]
            except PhoneError as exc:
                raise InvalidInput(str(exc), field="number") from None
        order: list[tuple[int | None, str]] = list(dialling_order(record.phones, phone_index))
        if callback_number is None or phone_index is not None:
            return order
        return [(None, callback_number), *(c for c in order if c[1] != callback_number)]

    def _dialled(
        self,
        session: Session,
        ctx: _Context,
        record: Record,
        agent_id: int,
        number: str,
        caller_id: str | None,
        now: datetime,
        auto: bool,
    ) -> None:
        campaign_id = ctx.campaign.id
        session.execute(
            _INTERACTION,
            {
                "record_id": record.id,
                "campaign_id": campaign_id,
                "campaign_name": ctx.campaign.name,
                "agent_id": agent_id,
                "kind": "call",
                "at": now,
                "number": number,
                "caller_id": caller_id,
                "note": "automatic: preview timeout" if auto else "",
            },
        )
        record.last_called_at = now
        session.execute(
            update(CampaignRecord)
            .where(
                CampaignRecord.campaign_id == campaign_id,
                CampaignRecord.record_id == record.id,
                # The first call of this lease (a lapsed lease may have left an older one).
                or_(
                    CampaignRecord.called_at.is_(None),
                    CampaignRecord.called_at < CampaignRecord.leased_at,
                ),
            )
            .values(called_at=now)
        )
        sql.renew(session, campaign_id, record.id, agent_id, self._until(ctx, now))
        if auto:
            self.bus.publish(
                AgentEvent(
                    agent_id, "delivery", campaign_id, record.id, "auto_dial", {"number": number}
                ),
                session,
            )

    def _close_undialable(
        self,
        session: Session,
        ctx: _Context,
        record_id: int,
        agent_id: int,
        plan: DialPlan,
        now: datetime,
    ) -> None:
        """No number may be dialled: the record is closed for the campaign, saying why."""
        assert plan.close_reason is not None
        reason = plan.close_reason.value
        sql.release(
            session,
            ctx.campaign.id,
            record_id,
            agent_id,
            status="final",
            retry_at=None,
            reserved_for=None,
            accept_by=None,
            last_code=reason,
            last_agent_id=agent_id,
            last_at=now,
            handled_pass=ctx.campaign.pass_no,
        )
        sql.end_delivery(
            session,
            campaign=ctx.campaign,
            record_id=record_id,
            agent_id=agent_id,
            kind="wrapup",
            code=reason,
            note=plan.message or "",
            now=now,
            outcome=reason,
        )
        _complete_if_stopping(session, ctx, now)

    def skip(self, agent: Actor, campaign_id: int, record_id: int) -> None:
        """Skip: the record waits for the next pass, or goes to the back of the order. Where
        the campaign does not allow skipping, only a record handled in an earlier pass (its
        delivery's ``already_handled``) may be skipped."""
        now = self.clock.now()
        agent_id = _agent_id(agent)
        with self.db.write() as session:
            ctx = self._context(session, agent, campaign_id, require_member=False)
            leased = sql.leased(session, campaign_id, record_id, agent_id, lock=True)
            handled = leased.handled_pass is not None and leased.handled_pass < ctx.campaign.pass_no
            # A record handled in an earlier pass may always be skipped (SPEC §4.4).
            if not ctx.settings.allow_skip and not handled:
                raise Conflict("this campaign does not allow skipping", code="skip_not_allowed")
            _refuse_if_dialled(leased)
            if ctx.settings.reinsert_skipped:
                values: dict[str, Any] = {
                    "status": "ready",
                    "rank": sql.back_of_the_order(session, campaign_id),
                }
                if ctx.campaign.enforce_lead_ownership:
                    # Back at the end of the hopper, as the owner's lead or a general one.
                    owner = session.scalar(select(Record.owner_id).where(Record.id == record_id))
                    hopper.reinsert(
                        session,
                        campaign_id,
                        record_id,
                        agent_id if owner == agent_id else None,
                        now,
                    )
            else:
                values = {"status": "waiting", "retry_at": None}
            sql.release(
                session,
                campaign_id,
                record_id,
                agent_id,
                handled_pass=ctx.campaign.pass_no,
                **values,
            )
            sql.close_assignment(session, campaign_id, record_id, now=now, outcome="skipped")
            _complete_if_stopping(session, ctx, now)

    def decline(self, agent: Actor, campaign_id: int, record_id: int, action: str) -> None:
        """Decline: ``call_later`` puts the record back at the end of the list;
        ``do_not_call`` removes it from the campaign."""
        now = self.clock.now()
        agent_id = _agent_id(agent)
        with self.db.write() as session:
            ctx = self._context(session, agent, campaign_id, require_member=False)
            if action not in ("call_later", "do_not_call"):
                raise InvalidInput(
                    f"decline is 'call_later' or 'do_not_call', not {action!r}", field="action"
                )
            lease = sql.leased(session, campaign_id, record_id, agent_id, lock=True)  # or 404
            if action == "call_later":
                _refuse_if_dialled(lease)
                values: dict[str, Any] = {
                    "status": "ready",
                    "rank": sql.back_of_the_order(session, campaign_id),
                }
            else:
                values = {
                    "status": "final",
                    "retry_at": None,
                    "last_code": "do_not_call",
                    "last_agent_id": agent_id,
                    "last_at": now,
                    "handled_pass": ctx.campaign.pass_no,
                    "called_at": None,
                }
            if action == "do_not_call":
                # Also after a call: the contact asked not to be called, and the number
                # dialled goes on the campaign's DNC list (a disposition of its own).
                callbacks.cancel(session, campaign_id, record_id, now)
                numbers = _numbers_of_lease(session, campaign_id, record_id)
                dnc.add_to_campaign_list(session, agent, campaign_id, numbers, "decline", now)
            sql.release(session, campaign_id, record_id, agent_id, **values)
            sql.end_delivery(
                session,
                campaign=ctx.campaign,
                record_id=record_id,
                agent_id=agent_id,
                kind="decline",
                code=action,
                note="",
                now=now,
                outcome=action,
            )
            _complete_if_stopping(session, ctx, now)

    def wrapup(
        self,
        agent: Actor,
        campaign_id: int,
        record_id: int,
        *,
        code: str,
        note: str = "",
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Choose the wrap-up (code, note, field edits); Done applies it. It can be changed."""
        now = self.clock.now()
        agent_id = _agent_id(agent)
        with self.db.write() as session:
            ctx = self._context(session, agent, campaign_id, require_member=False)
            row = sql.leased(session, campaign_id, record_id, agent_id, lock=True)
            record = _record(session, record_id)
            self._code(ctx, code)
            check_edits(ctx.schema, record.data, fields or {})
            row.pending = {"code": code, "note": check_note(note), "fields": dict(fields or {})}
            session.flush()
            sql.renew(session, campaign_id, record_id, agent_id, self._until(ctx, now))

    def done(
        self,
        agent: Actor,
        campaign_id: int,
        record_id: int,
        *,
        code: str | None = None,
        note: str | None = None,
        fields: Mapping[str, Any] | None = None,
        stop: bool = False,
    ) -> None:
        """Done (or Done and Stop): apply the wrap-up and close the record for this pass."""
        _again_after_deadlock(
            lambda: self._done(
                agent, campaign_id, record_id, code=code, note=note, fields=fields, stop=stop
            )
        )

    def _done(
        self,
        agent: Actor,
        campaign_id: int,
        record_id: int,
        *,
        code: str | None,
        note: str | None,
        fields: Mapping[str, Any] | None,
        stop: bool,
    ) -> None:
        agent_id = _agent_id(agent)
        with self.db.write() as session:
            ctx = self._context(session, agent, campaign_id, require_member=False)
            # The record's row lock orders this wrap-up (which may claim ownership for the
            # campaign) against other campaigns' calls of the record, and the time is read
            # once it is held: an ownership and a call can never overlap (SPEC §10.3).
            lease = sql.leased_locked(session, campaign_id, record_id, agent_id)
            callback = lease.callback
            now = self.clock.now()
            pending = lease.pending or {}
            code = code or pending.get("code")
            if code is None:
                raise InvalidInput("choose a wrap-up code before Done", field="code")
            spec = self._code(ctx, code)
            note = check_note(note if note is not None else pending.get("note", ""))
            edits = fields if fields is not None else pending.get("fields", {})
            changes = check_edits(ctx.schema, lease.data, edits)
            if changes:
                record_data_update(session, record_id, {k: v for k, (_, v) in changes.items()}, now)
                audit(
                    session,
                    agent,
                    "record.edit",
                    "record",
                    record_id,
                    now=now,
                    before={k: b for k, (b, _) in changes.items()},
                    after={k: a for k, (_, a) in changes.items()},
                    reason=f"wrap-up in campaign {ctx.campaign.name!r}",
                )
            outcome = dispose(spec, now)
            status, retry_at, reserved_for = outcome.status, outcome.retry_at, None
            if callback is not None and callback.status == "delivered":
                callbacks.mark(session, campaign_id, record_id, "done", now)  # this was it
            elif callback is not None:
                # A callback scheduled now: the record waits for it, reserved for its agent.
                if spec.final:
                    raise InvalidInput(
                        f"{spec.code!r} closes the record, but a callback is scheduled: "
                        "cancel the callback or choose another code",
                        field="code",
                    )
                if callback.due_at <= now:
                    raise InvalidInput(
                        "the callback time has passed: change or cancel the callback first",
                        field="callback",
                    )
                status, retry_at, reserved_for = (
                    RecordStatus.WAITING,
                    callback.due_at,
                    callback.agent_id,
                )
            if spec.adds_to_dnc:
                numbers = _numbers_of_lease(session, campaign_id, record_id)
                dnc.add_to_campaign_list(session, agent, campaign_id, numbers, "wrapup", now)
            sql.release(
                session,
                campaign_id,
                record_id,
                agent_id,
                status=status,
                retry_at=retry_at,
                reserved_for=reserved_for,
                accept_by=None,
                called_at=None,
                attempts_added=1 if outcome.counts_as_attempt else 0,
                last_code=spec.code,
                last_agent_id=agent_id,
                last_at=now,
                handled_pass=ctx.campaign.pass_no,
                lead_status=spec.code,  # the lead's status, across campaigns
            )
            sql.end_delivery(
                session,
                campaign=ctx.campaign,
                record_id=record_id,
                agent_id=agent_id,
                kind="wrapup",
                code=spec.code,
                note=note,
                now=now,
                outcome="done",
                history_code=spec.code,
                edits={k: list(v) for k, v in changes.items()} if changes else None,
            )
            if ctx.ownership.enabled:  # disabled: no claims, no renewals (SPEC §6)
                ownership.after_attempt(
                    session,
                    agent,
                    ctx.campaign,
                    ctx.ownership,
                    record_id,
                    valid=outcome.counts_as_attempt,
                    code=spec.code,
                    now=now,
                )
            # Workflow rules (SPEC §7.4), in this transaction: an owner change, a field change
            # and a queued webhook commit or roll back with the wrap-up.
            fired = (
                workflows.fire(
                    session,
                    agent,
                    campaign_id=campaign_id,
                    campaign_name=ctx.campaign.name,
                    record_id=record_id,
                    code=spec.code,
                    agent_id=agent_id,
                    agent_user_id=agent.user_id,
                    owner_action=spec.owner_action.value if spec.owner_action else None,
                    now=now,
                )
                if ctx.has_rules
                else []
            )
            if stop:
                _ensure_session(session, campaign_id, agent_id, now, receiving=False)
                self.bus.publish(AgentEvent(agent_id, "state", campaign_id), session)
            _complete_if_stopping(session, ctx, now)
            pushed = not stop and self._push_next(session, ctx, agent_id, now)
        if not pushed:  # nobody else waits when the agent got their next record
            self._work(campaign_id)
        if self.on_webhooks_queued is not None and any(a.webhook_id for a in fired):
            self.on_webhooks_queued()

    # --- helpers ---------------------------------------------------------------------------------

    def _context(
        self, session: Session, agent: Actor, campaign_id: int, *, require_member: bool = True
    ) -> _Context:
        """The campaign as the agent may see it: 404 unless they are in its queue.

        Actions on a record already delivered need no membership check: the
        guarded lease is the agent's right to act on it.
        """
        agent.require(Right.AGENT_WORK)
        row = session.execute(_CONTEXT, {"campaign": campaign_id, "agent": agent.id}).first()
        if row is None or (require_member and not row[5]):
            raise NotFound(f"no campaign {campaign_id} for you", field="campaign_id")
        campaign, schema, ownership_settings, settings, window, _, codes, has_rules = row
        return _Context(
            campaign,
            *_parse(schema, settings, window, ownership_settings),
            specs_from_json(codes),
            bool(has_rules),
        )

    @staticmethod
    def _code(ctx: _Context, code: str) -> WrapupCodeSpec:
        spec = ctx.codes.get(code)
        if spec is None:
            raise InvalidInput(
                f"{code!r} is not a wrap-up code of this campaign ({', '.join(ctx.codes)})",
                field="code",
            )
        return spec

    def _until(self, ctx: _Context, now: datetime) -> datetime:
        return now + timedelta(seconds=ctx.settings.lease_timeout_s)

    def _delivery(
        self, session: Session, ctx: _Context, record_id: int, agent_id: int, now: datetime
    ) -> Delivery:
        found = session.execute(
            _DELIVERED, {"campaign": ctx.campaign.id, "record": record_id}
        ).one_or_none()
        if found is None or found.status != "leased" or found.lease_agent_id != agent_id:
            raise NotFound(
                f"record {record_id} is not delivered to you in campaign {ctx.campaign.id}",
                field="record_id",
            )
        lease = sql.lease_view(found)
        callback = lease.callback
        assert lease.leased_at is not None and lease.lease_expires_at is not None
        window = ctx.window
        local = now.astimezone(ZoneInfo(lease.tz)) if lease.tz else None
        already = None
        if lease.handled_pass is not None and lease.handled_pass < ctx.campaign.pass_no:
            already = {"pass_no": lease.handled_pass, "code": lease.last_code, "at": lease.last_at}
        hidden = _owner_columns(ctx.schema)
        deadline = None
        timeout = ctx.settings.preview_timeout_s
        dialled = lease.called_at is not None and lease.called_at >= lease.leased_at
        if timeout is not None and lease.accept_by is None and not dialled:
            deadline = lease.leased_at + timedelta(seconds=timeout)
        return Delivery(
            campaign_id=ctx.campaign.id,
            campaign_name=ctx.campaign.name,
            record_id=record_id,
            leased_at=lease.leased_at,
            lease_expires_at=lease.lease_expires_at,
            timezone=lease.tz,
            local_time=local,
            calling_window_open=lease.tz is not None and window.is_open(now, lease.tz),
            fields=[
                FieldView(
                    name=c.name,
                    type=c.type.value,
                    editable=c.editable,
                    required=c.required,
                    options=c.options,
                    value=lease.data.get(c.name),
                )
                for c in ctx.schema.columns
                if c.name not in hidden
            ],
            phones=[
                PhoneView(index=i, column=p.column, type=p.type.value, number=n)
                for i, (p, n) in enumerate(
                    zip(ctx.schema.phone_columns, lease.phones, strict=False)
                )
                if n
            ],
            attempts=lease.attempts,
            already_handled=already,
            pending_wrapup=lease.pending,
            history=_history(found.history),
            wrapup_codes=list(ctx.codes.values()),
            allow_skip=ctx.settings.allow_skip or already is not None,
            caller_ids=ctx.settings.caller_ids,
            default_caller_id=ctx.settings.caller_id(None),
            mode=ctx.campaign.mode,
            accept_by=lease.accept_by,
            preview_deadline=deadline,
            callback=(
                {
                    "origin": "personal callback" if callback.kind == "personal" else "callback",
                    "state": callback.status,
                    "due_at": callback.due_at,
                    "number": callback.number,
                    "note": callback.note,
                }
                if callback is not None
                else None
            ),
        )


def _owner_columns(schema: ListSchema) -> tuple[str | None, str | None]:
    """The list's owner columns (agent-owned and lead-owner), which no agent is shown: the
    owner is not on the agent's record form (SPEC §1), and the column may be stale."""
    return schema.agent_owned_column, schema.lead_owner_column


def _owner_of(ctx: _Context, row: CampaignRecord, record: Record) -> int | None:
    """The record's owner, whom a personal callback must reach (SPEC §4.2)."""
    if ctx.campaign.agent_owned_column is not None:
        return row.agent_id
    if ctx.campaign.enforce_lead_ownership:
        return record.owner_id
    return None


def _agent_id(agent: Actor) -> int:
    if agent.id is None:
        raise NotFound("only a user can work records")
    return agent.id


#: SQLSTATE of a transaction PostgreSQL rolled back to break a deadlock.
DEADLOCK_SQLSTATE = "40P01"


def _again_after_deadlock(work: Callable[[], _T]) -> _T:
    """``work`` (one transaction), run once more if PostgreSQL chose it as a deadlock's
    victim. Seen in dispense_bench with two campaigns sharing a list, campaign ownership on,
    before claims locked a candidate's record first (``dispensing._LOCK``): a Done setting
    its record aside in the other campaign waited for a row the other campaign's claim held,
    and that claim waited for the Done's transaction. Kept for cycles that no lock order
    rules out (PostgreSQL may wait for a newer version of a row even under SKIP LOCKED).
    Nothing of the victim was committed, and its events are sent only on commit, so running
    it again is safe."""
    try:
        return work()
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != DEADLOCK_SQLSTATE:
            raise
        logger.warning("rolled back to break a deadlock; running it again: %s", exc.orig)
    return work()


# The JSON documents come as text: parsed once per distinct text (_parse), not per call.
_CONTEXT = (
    select(
        Campaign,
        cast(ContactList.schema, Text).label("schema_json"),
        cast(ContactList.ownership, Text).label("ownership_json"),
        cast(Campaign.settings, Text).label("settings_json"),
        cast(Campaign.calling_window, Text).label("window_json"),
        select(QueueMember.user_id)
        .where(QueueMember.queue_id == Campaign.queue_id, QueueMember.user_id == bindparam("agent"))
        .exists(),
        codes_json(Campaign.wrapup_set_id),
        select(WorkflowRule.id).where(WorkflowRule.enabled).exists(),
    )
    .join(ContactList, ContactList.id == Campaign.list_id)
    .where(Campaign.id == bindparam("campaign"))
)
_INTERACTIONS, _USERS = table_of(Interaction), table_of(User)
_RECENT = (
    select(
        _INTERACTIONS.c.at,
        _INTERACTIONS.c.id,
        _INTERACTIONS.c.kind,
        _INTERACTIONS.c.campaign_name,
        _USERS.c.user_id,
        _INTERACTIONS.c.number,
        _INTERACTIONS.c.code,
        _INTERACTIONS.c.note,
    )
    .select_from(_INTERACTIONS.outerjoin(_USERS, _USERS.c.id == _INTERACTIONS.c.agent_id))
    .where(_INTERACTIONS.c.record_id == bindparam("record"))
    .order_by(_INTERACTIONS.c.at.desc(), _INTERACTIONS.c.id.desc())
    .limit(HISTORY_LIMIT)
    .subquery()
)
_CR = table_of(CampaignRecord)
#: The delivered record, and its history as JSON (:func:`_history` reads it): one statement.
_DELIVERED = sql.WITH_RECORD_AND_CALLBACK.add_columns(
    select(json_rows(*_RECENT.c)).scalar_subquery().label("history")
).where(_CR.c.campaign_id == bindparam("campaign"), _CR.c.record_id == bindparam("record"))
_INTERACTION = insert(table_of(Interaction))
_SESSION_UPSERT = text(
    "INSERT INTO agent_sessions (campaign_id, user_id, logged_in_at, receiving, receiving_since) "
    "VALUES (:campaign, :agent, :now, :receiving, :now) "
    "ON CONFLICT (campaign_id, user_id) DO UPDATE SET receiving = excluded.receiving, "
    "receiving_since = CASE WHEN excluded.receiving AND NOT agent_sessions.receiving "
    "THEN excluded.receiving_since ELSE agent_sessions.receiving_since END "
    # unchanged (a Get Record while receiving): no new row version, the row locked all the same
    "WHERE agent_sessions.receiving <> excluded.receiving"
).bindparams(bindparam("now", type_=UTCDateTime()))
_RECEIVING_AND_HELD_POSTGRESQL = sql.CURRENT_LEASE_LOCKED.add_cte(
    _SESSION_UPSERT.columns().cte("receiving")
)


def _record(session: Session, record_id: int) -> Record:
    record = session.get(Record, record_id, populate_existing=True)
    if record is None:
        raise NotFound(f"no record {record_id}", field="record_id")
    return record


def _history(doc: str | None) -> list[HistoryItem]:
    """The rows of the ``history`` column of :data:`_DELIVERED`, newest first."""
    rows = [(utc_from_json(at), *rest) for at, *rest in json.loads(doc or "[]")]
    rows.sort(key=lambda row: (row[0], row[1]), reverse=True)
    return [
        HistoryItem(
            at=at,
            kind=kind,
            campaign_name=campaign_name,
            agent_user_id=user_id,
            number=number,
            code=code,
            note=note,
        )
        for at, _, kind, campaign_name, user_id, number, code, note in rows
    ]


def _dialled_in_lease(row: CampaignRecord) -> bool:
    """Whether the agent holding the lease dialled during it (``called_at`` may be left
    from an earlier lease that lapsed)."""
    return (
        row.called_at is not None and row.leased_at is not None and row.called_at >= row.leased_at
    )


def _refuse_if_dialled(lease: CampaignRecord) -> None:
    """Skip and Decline *call later* are for a record not dialled yet: after a call, the
    call's outcome is recorded by a wrap-up (attempts, retry, campaign ownership)."""
    if _dialled_in_lease(lease):
        raise Conflict(
            "you already called this record: choose a wrap-up code and Done (or Decline "
            "with do_not_call if the contact asked not to be called)",
            code="wrapup_required",
        )


def _take_back_from_non_owner(
    session: Session,
    ctx: _Context,
    lease: CampaignRecord,
    record: Record,
    agent_id: int,
    now: datetime,
) -> Conflict | None:
    """Refuse to dial a lead of a lead-ownership campaign that another agent owns now (its
    owner changed while it was delivered; SPEC §10.2). Not dialled yet, it is taken back:
    the next hopper load stages it for its owner. Already dialled during this delivery, the
    agent keeps it to wrap the call up (Done gives it back)."""
    if (
        not ctx.campaign.enforce_lead_ownership
        or record.owner_id is None
        or record.owner_id == agent_id
    ):
        return None
    if _dialled_in_lease(lease):
        return Conflict(
            "this lead belongs to another agent now: it is not dialled again; choose a "
            "wrap-up code and Done for the call you made",
            code="owned_by_another_agent",
        )
    sql.release(
        session,
        ctx.campaign.id,
        record.id,
        agent_id,
        status="ready",
        accept_by=None,
        reserved_for=None,
    )
    sql.close_assignment(session, ctx.campaign.id, record.id, now=now, outcome="owner_changed")
    return Conflict(
        "this lead belongs to another agent now: it was not dialled and has been taken back; "
        "get the next record",
        code="owned_by_another_agent",
    )


def _take_back_if_not_ours(
    session: Session, campaign_id: int, record_id: int, agent_id: int, now: datetime
) -> Conflict | None:
    """Refuse to dial a record that is no longer this campaign's to dial, and take it back.

    * The agent's lease lapsed and an agent of another campaign has the record now: one
      contact is never called by two agents at once (SPEC §10.1).
    * Another campaign took ownership of it since it was delivered (SPEC §6): it waits,
      set aside, until that ownership ends.
    """
    if sql.out_elsewhere(session, campaign_id, record_id, now):
        sql.release(session, campaign_id, record_id, agent_id, status="ready")
        sql.close_assignment(session, campaign_id, record_id, now=now, outcome="expired")
        return Conflict(
            "your time with this record ran out and an agent of another campaign has it "
            "now: it was not dialled; get the next record",
            code="record_out_elsewhere",
        )
    owner = ownership.active_owner(session, record_id, now)
    if owner is None or owner.campaign_id == campaign_id:
        return None
    sql.release(
        session, campaign_id, record_id, agent_id, status="blocked", blocked_until=owner.expires_at
    )
    sql.close_assignment(session, campaign_id, record_id, now=now, outcome="owned_elsewhere")
    return Conflict(
        "another campaign on this contact list owns the record now: it is not dialled from "
        "this campaign and has been taken back; get the next record",
        code="owned_by_another_campaign",
    )


def _callback_number(session: Session, campaign_id: int, record_id: int) -> str | None:
    """The other number of the callback being delivered now, if it has one."""
    callback = callbacks.pending(session, campaign_id, record_id)
    if callback is not None and callback.status == "delivered":
        return callback.number
    return None


def _numbers_of_lease(session: Session, campaign_id: int, record_id: int) -> list[str]:
    """The numbers an agent's *do not call* covers: the one dialled during this delivery,
    else every number of the record."""
    leased_at = session.scalar(
        select(CampaignRecord.leased_at).where(
            CampaignRecord.campaign_id == campaign_id, CampaignRecord.record_id == record_id
        )
    )
    dialled = session.scalar(
        select(Interaction.number)
        .where(
            Interaction.campaign_id == campaign_id,
            Interaction.record_id == record_id,
            Interaction.kind == "call",
            Interaction.at >= leased_at,
        )
        .order_by(Interaction.id.desc())
        .limit(1)
    )
    if dialled is not None:
        return [dialled]
    record = session.get(Record, record_id)
    return [n for n in record.phones if n] if record is not None else []


def _complete_if_stopping(session: Session, ctx: _Context, now: datetime) -> None:
    if ctx.campaign.state == CampaignState.STOPPING.value:
        complete_if_drained(session, ctx.campaign.id, now=now)


def _receive_and_held(
    session: Session, campaign_id: int, agent_id: int, now: datetime
) -> int | None:
    """Get Record: the agent logged in if needed and receiving (:func:`_ensure_session`),
    and the record they already hold here, locked (a claim taking this lapsed lease right
    now makes us wait, then not see it). One statement on PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        params = {"campaign": campaign_id, "agent": agent_id, "now": now, "receiving": True}
        found = session.scalar(_RECEIVING_AND_HELD_POSTGRESQL, params)
        return int(found) if found is not None else None
    _ensure_session(session, campaign_id, agent_id, now, receiving=True)
    return sql.current_lease(session, campaign_id, agent_id, lock=True)


def _ensure_session(
    session: Session, campaign_id: int, agent_id: int, now: datetime, receiving: bool
) -> None:
    """Log the agent into the campaign if needed and set Get Record / Stop (one upsert)."""
    session.execute(
        _SESSION_UPSERT,
        {"campaign": campaign_id, "agent": agent_id, "now": now, "receiving": receiving},
    )
