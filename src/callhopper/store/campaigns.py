"""The campaign store (:class:`callhopper.ports.campaigns.CampaignStore`): campaigns, their
life cycle columns, progress, the error monitor and the assignment history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import NamedFromClause

from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaign_values import (
    ACTIVE_STATES,
    Assignment,
    Campaign,
    CampaignSpec,
    ErrorRecord,
    Progress,
    ResultRow,
)
from callhopper.domain.campaigns import CampaignSettings, CampaignState, DialingMode, SortKey
from callhopper.domain.errors import NotFound
from callhopper.domain.ownership import OwnerError, OwnerOrder
from callhopper.domain.records import DELIVERABLE_STATUSES, RecordStatus
from callhopper.store.models import Assignment as AssignmentRow
from callhopper.store.models import Campaign as CampaignRow
from callhopper.store.models import (
    CampaignRecord,
    HopperEntry,
    Queue,
    QueueMember,
    Record,
    User,
    WrapupCodeSet,
)

__all__ = ["ACTIVE_STATES", "SqlCampaignStore", "campaign_of", "complete_if_drained"]


def _current_errors(
    campaign_id: int, queue_id: int | None
) -> tuple[ColumnElement[Any], NamedFromClause[Any], ColumnElement[bool]]:
    """Why each record of the campaign cannot be delivered *now*, for the error monitor:
    the reason its snapshot stored (status ``error``), or, for a record still to be
    delivered in this pass, an owner who has since been deactivated (``inactive_user``) or
    left the campaign's queue (``not_in_queue``): such a record goes to nobody else, so it
    shows at once rather than at the next recycle.

    Returns the reason, the owner alias to outer-join on ``agent_id``, and the condition
    that picks the undeliverable records."""
    owner = User.__table__.alias("owner")
    member = (
        select(QueueMember.user_id)
        .where(QueueMember.queue_id == queue_id, QueueMember.user_id == CampaignRecord.agent_id)
        .exists()
    )
    stored = CampaignRecord.status == RecordStatus.ERROR
    reason = case(
        (stored, CampaignRecord.error),
        (owner.c.active.is_(False), literal(OwnerError.INACTIVE_USER.value)),
        else_=literal(OwnerError.NOT_IN_QUEUE.value),
    )
    owner_gone = and_(
        CampaignRecord.status.not_in([RecordStatus.FINAL, RecordStatus.ERROR]),
        CampaignRecord.agent_id.is_not(None),
        or_(owner.c.active.is_(False), ~member),
    )
    return reason, owner, and_(CampaignRecord.campaign_id == campaign_id, or_(stored, owner_gone))


def campaign_of(row: CampaignRow) -> Campaign:
    """The domain value of a stored campaign."""
    return Campaign(
        id=row.id,
        name=row.name,
        description=row.description,
        list_id=row.list_id,
        queue_id=row.queue_id,
        wrapup_set_id=row.wrapup_set_id,
        mode=DialingMode(row.mode),
        state=CampaignState(row.state),
        agent_owned_column=row.agent_owned_column,
        enforce_lead_ownership=row.enforce_lead_ownership,
        owner_order=OwnerOrder(row.owner_order),
        sort=tuple(SortKey.model_validate(k) for k in row.sort),
        calling_window=CallingWindow.model_validate(row.calling_window),
        settings=CampaignSettings.model_validate(row.settings),
        pass_no=row.pass_no,
        zones=tuple(row.zones or ()),
        started_at=row.started_at,
        stopped_at=row.stopped_at,
        completed_at=row.completed_at,
        recycled_at=row.recycled_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def complete_if_drained(session: Session, campaign_id: int, *, now: datetime) -> bool:
    """A stopping campaign completes once no record is leased (lapsed leases do not count)."""
    busy = (
        select(CampaignRecord.record_id)
        .where(
            CampaignRecord.campaign_id == campaign_id,
            CampaignRecord.status == RecordStatus.LEASED,
            CampaignRecord.lease_expires_at > now,
        )
        .exists()
    )
    result = session.execute(
        update(CampaignRow)
        .where(
            CampaignRow.id == campaign_id,
            CampaignRow.state == CampaignState.STOPPING.value,
            ~busy,
        )
        .values(state=CampaignState.COMPLETE.value, completed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


class SqlCampaignStore:
    """Campaigns in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _row(self, campaign_id: int, *, lock: bool = False) -> CampaignRow:
        query = (
            select(CampaignRow)
            .where(CampaignRow.id == campaign_id)
            .execution_options(populate_existing=True)
        )
        if lock:
            query = query.with_for_update()
        row = self.session.scalar(query)
        if row is None:
            raise NotFound(f"no campaign {campaign_id}", field="campaign_id")
        return row

    def get(self, campaign_id: int, *, lock: bool = False) -> Campaign:
        return campaign_of(self._row(campaign_id, lock=lock))

    def all(self) -> list[Campaign]:
        rows = self.session.scalars(select(CampaignRow).order_by(CampaignRow.id))
        return [campaign_of(row) for row in rows]

    def named(self, name: str) -> int | None:
        return self.session.scalar(select(CampaignRow.id).where(CampaignRow.name == name))

    def on_list(self, list_id: int) -> list[Campaign]:
        rows = self.session.scalars(
            select(CampaignRow).where(CampaignRow.list_id == list_id).order_by(CampaignRow.id)
        )
        return [campaign_of(row) for row in rows]

    def lead_campaigns_running(self) -> list[int]:
        return list(
            self.session.scalars(
                select(CampaignRow.id).where(
                    CampaignRow.enforce_lead_ownership.is_(True),
                    CampaignRow.state == CampaignState.ON.value,
                )
            )
        )

    def running_automatic(self) -> list[int]:
        modes = [m.value for m in DialingMode if m.dials_by_itself]
        return list(
            self.session.scalars(
                select(CampaignRow.id)
                .where(CampaignRow.mode.in_(modes), CampaignRow.state == CampaignState.ON.value)
                .order_by(CampaignRow.id)
            )
        )

    def check_references(self, queue_id: int, wrapup_set_id: int) -> None:
        if self.session.get(Queue, queue_id) is None:
            raise NotFound(f"no queue {queue_id}", field="queue_id")
        if self.session.get(WrapupCodeSet, wrapup_set_id) is None:
            raise NotFound(f"no wrap-up code set {wrapup_set_id}", field="set_id")

    def add(self, spec: CampaignSpec, *, now: datetime) -> Campaign:
        row = CampaignRow(
            name=spec.name,
            description=spec.description,
            list_id=spec.list_id,
            queue_id=spec.queue_id,
            wrapup_set_id=spec.wrapup_set_id,
            mode=spec.mode.value,
            state=CampaignState.OFF.value,
            agent_owned_column=spec.agent_owned_column,
            enforce_lead_ownership=spec.enforce_lead_ownership,
            owner_order=spec.owner_order.value,
            sort=[k.model_dump() for k in spec.sort],
            calling_window=spec.calling_window.model_dump(mode="json"),
            settings=spec.settings.model_dump(mode="json"),
            pass_no=0,
            zones=[],
            created_at=now,
            updated_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return campaign_of(row)

    def save(self, campaign: Campaign) -> None:
        row = self.session.get(CampaignRow, campaign.id)
        if row is None:
            raise NotFound(f"no campaign {campaign.id}", field="campaign_id")
        row.name = campaign.name
        row.description = campaign.description
        row.wrapup_set_id = campaign.wrapup_set_id
        row.sort = [k.model_dump() for k in campaign.sort]
        row.owner_order = campaign.owner_order.value
        row.calling_window = campaign.calling_window.model_dump(mode="json")
        row.settings = campaign.settings.model_dump(mode="json")
        row.state = campaign.state.value
        row.pass_no = campaign.pass_no
        row.zones = list(campaign.zones)
        row.started_at = campaign.started_at
        row.stopped_at = campaign.stopped_at
        row.recycled_at = campaign.recycled_at
        row.updated_at = campaign.updated_at
        self.session.flush()

    def delete(self, campaign_id: int) -> None:
        # Neither the hopper nor the campaign's records have a key to campaigns (migrations
        # 0013, 0028). A load or a snapshot adding rows holds the campaign's row until it
        # commits, so the caller's lock waited for it and these see them.
        self.session.execute(delete(HopperEntry).where(HopperEntry.campaign_id == campaign_id))
        self.session.execute(
            delete(CampaignRecord).where(CampaignRecord.campaign_id == campaign_id)
        )
        self.session.delete(self._row(campaign_id))
        self.session.flush()

    def complete_if_drained(self, campaign_id: int, *, now: datetime) -> bool:
        return complete_if_drained(self.session, campaign_id, now=now)

    def queue_agents(self, queue_id: int) -> list[int]:
        return list(
            self.session.scalars(
                select(QueueMember.user_id)
                .where(QueueMember.queue_id == queue_id)
                .order_by(QueueMember.user_id)
            )
        )

    def progress(self, campaign: Campaign) -> tuple[Progress, dict[int, Progress]]:
        cr = CampaignRecord
        pass_no = campaign.pass_no
        deliverable = [s.value for s in sorted(DELIVERABLE_STATUSES)]
        rows = self.session.execute(
            select(
                cr.agent_id,
                func.count(),
                func.sum(case((cr.delivered_pass == pass_no, 1), else_=0)),
                func.sum(case((cr.handled_pass == pass_no, 1), else_=0)),
                func.sum(case((cr.status.in_(deliverable), 1), else_=0)),
                func.sum(case((cr.status == RecordStatus.ERROR, 1), else_=0)),
                func.sum(case((cr.status == RecordStatus.FINAL, 1), else_=0)),
            )
            .where(cr.campaign_id == campaign.id)
            .group_by(cr.agent_id)
        ).all()
        total = Progress()
        per_agent: dict[int, Progress] = {}
        for agent_id, *counts in rows:
            item = Progress(*(int(c or 0) for c in counts))
            total.add(item)
            if agent_id is not None:
                per_agent[agent_id] = item
        return total, per_agent

    def error_counts(self, campaign_id: int) -> dict[str, int]:
        queue_id = self.session.scalar(
            select(CampaignRow.queue_id).where(CampaignRow.id == campaign_id)
        )
        reason, owner, undeliverable = _current_errors(campaign_id, queue_id)
        rows = self.session.execute(
            select(reason, func.count())
            .select_from(CampaignRecord)
            .outerjoin(owner, owner.c.id == CampaignRecord.agent_id)
            .where(undeliverable)
            .group_by(reason)
        ).all()
        counts = {reason.value: 0 for reason in OwnerError}
        counts.update({str(reason): int(count) for reason, count in rows})
        return counts

    def error_records(
        self, campaign: Campaign, *, reason: str | None, after_id: int, limit: int
    ) -> list[ErrorRecord]:
        current, owner, undeliverable = _current_errors(campaign.id, campaign.queue_id)
        query = (
            select(current, Record.id, Record.data, owner.c.user_id)
            .select_from(CampaignRecord)
            .join(Record, Record.id == CampaignRecord.record_id)
            .outerjoin(owner, owner.c.id == CampaignRecord.agent_id)
            .where(undeliverable, CampaignRecord.record_id > after_id)
            .order_by(CampaignRecord.record_id)
            .limit(limit)
        )
        if reason is not None:
            query = query.where(current == reason)
        column = campaign.agent_owned_column
        return [
            ErrorRecord(
                record_id=record_id,
                reason=str(error),
                owner_value=data.get(column) if column else None,
                owner_user_id=owner_user_id,
                data=data,
            )
            for error, record_id, data, owner_user_id in self.session.execute(query)
        ]

    def assignments(
        self,
        *,
        campaign_id: int | None,
        record_id: int | None,
        agent_id: int | None,
        before_id: int | None,
        limit: int,
    ) -> list[Assignment]:
        a = AssignmentRow
        query = (
            select(a, User.user_id)
            .join(User, User.id == a.agent_id)
            .order_by(a.id.desc())
            .limit(limit)
        )
        if campaign_id is not None:
            query = query.where(a.campaign_id == campaign_id)
        if record_id is not None:
            query = query.where(a.record_id == record_id)
        if agent_id is not None:
            query = query.where(a.agent_id == agent_id)
        if before_id is not None:
            query = query.where(a.id < before_id)
        return [
            Assignment(
                id=r.id,
                campaign_id=r.campaign_id,
                campaign_name=r.campaign_name,
                list_id=r.list_id,
                record_id=r.record_id,
                agent_user_id=user_id,
                pass_no=r.pass_no,
                leased_at=r.leased_at,
                released_at=r.released_at,
                outcome=r.outcome,
                code=r.code,
            )
            for r, user_id in self.session.execute(query)
        ]

    def results(self, campaign_id: int, *, after_id: int, limit: int) -> list[ResultRow]:
        # The page of campaign records first (the primary key's order), then its joins: the
        # plan stays a walk of ``limit`` index entries whatever the table statistics say.
        c = (
            select(CampaignRecord)
            .where(CampaignRecord.campaign_id == campaign_id, CampaignRecord.record_id > after_id)
            .order_by(CampaignRecord.record_id)
            .limit(limit)
            .subquery("page")
        )
        owner = User.__table__.alias("owner")
        lead_owner = User.__table__.alias("lead_owner")
        last_agent = User.__table__.alias("last_agent")
        query = (
            select(
                c.c.record_id,
                Record.key,
                c.c.status,
                c.c.attempts,
                c.c.last_code,
                c.c.last_at,
                func.coalesce(owner.c.user_id, lead_owner.c.user_id),
                last_agent.c.user_id,
            )
            .join(Record, Record.id == c.c.record_id)
            .outerjoin(owner, owner.c.id == c.c.agent_id)
            .outerjoin(lead_owner, lead_owner.c.id == Record.owner_id)
            .outerjoin(last_agent, last_agent.c.id == c.c.last_agent_id)
            .order_by(c.c.record_id)
        )
        return [ResultRow(*row) for row in self.session.execute(query)]

    def user_names(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        if not ids:
            return {}
        rows = self.session.execute(
            select(User.id, User.user_id, User.display_name).where(User.id.in_(list(ids)))
        )
        return {key: (user_id, name) for key, user_id, name in rows}
