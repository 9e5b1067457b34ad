"""What an agent is shown: a delivered record, why nothing was delivered, their campaigns,
and what Call did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from callhopper.domain.campaigns import CampaignState, DialingMode
from callhopper.domain.contacts import ListSchema
from callhopper.domain.dispensing import CampaignContext, HistoryItem, dialled_in_lease
from callhopper.domain.errors import NotFound
from callhopper.domain.records import CallbackKind, RecordStatus
from callhopper.domain.wrapup import WrapupCodeSpec
from callhopper.ports.transactions import Transaction

__all__ = [
    "Delivery",
    "DialResult",
    "FieldView",
    "HistoryItem",
    "MyCampaign",
    "NoRecord",
    "PhoneView",
    "delivery",
]


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
    #: The extension written with the number (``ext. 12``), to dial once the call is
    #: answered; ``None`` when there is none.
    extension: str | None = None


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
    #: The agent may type a number of their own on Call (checked against DNC first).
    allow_manual_dial: bool
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
    #: ``held_by_another_campaign``: the campaign holding the record freed first, and until
    #: when (``None``: no expiry).
    held_by: str | None = None
    held_until: datetime | None = None


@dataclass(frozen=True)
class MyCampaign:
    id: int
    name: str
    description: str
    state: CampaignState
    mode: DialingMode
    delivery: str
    logged_in: bool
    receiving: bool
    record_id: int | None


@dataclass(frozen=True)
class DialResult:
    """What Call did after pre-dial validation."""

    record_id: int
    #: The number dialled; ``None`` when none could be (the record is then closed).
    number: str | None
    phone_index: int | None
    #: ``clear``, or which of the four do-not-call cases happened (``dnc_next`` …).
    case: str
    message: str
    #: Numbers passed over, each with its verdict and message.
    skipped: list[dict[str, Any]]
    #: ``dnc`` or ``not_validated`` when the record was closed instead of dialled.
    closed: str | None = None
    #: The caller ID the call shows (None: the campaign has none, or nothing was dialled).
    caller_id: str | None = None
    #: The extension to dial once the call is answered (None: the number has none).
    extension: str | None = None


def owner_columns(schema: ListSchema) -> tuple[str | None, str | None]:
    """The list's owner columns (agent-owned and lead-owner), which no agent is shown: the
    owner is not on the agent's record form, and the column may be stale."""
    return schema.agent_owned_column, schema.lead_owner_column


def delivery(
    tx: Transaction, ctx: CampaignContext, record_id: int, agent_id: int, now: datetime
) -> Delivery:
    """The record delivered to the agent, as they see it; 404 for any other record."""
    found = tx.claims.delivered(ctx.id, record_id)
    if (
        found is None
        or found.lease.status is not RecordStatus.LEASED
        or found.lease.lease_agent_id != agent_id
    ):
        raise NotFound(
            f"record {record_id} is not delivered to you in campaign {ctx.id}",
            field="record_id",
        )
    lease = found.lease
    callback = lease.callback
    assert lease.leased_at is not None and lease.lease_expires_at is not None
    window = ctx.window
    local = now.astimezone(ZoneInfo(lease.tz)) if lease.tz else None
    already = None
    if lease.handled_pass is not None and lease.handled_pass < ctx.pass_no:
        already = {"pass_no": lease.handled_pass, "code": lease.last_code, "at": lease.last_at}
    hidden = owner_columns(ctx.schema)
    deadline = None
    timeout = ctx.settings.preview_timeout_s
    dialled = dialled_in_lease(lease.called_at, lease.leased_at)
    if timeout is not None and lease.accept_by is None and not dialled:
        deadline = lease.leased_at + timedelta(seconds=timeout)
    return Delivery(
        campaign_id=ctx.id,
        campaign_name=ctx.name,
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
            PhoneView(index=i, column=p.column, type=p.type.value, number=n, extension=x)
            for i, (p, n, x) in enumerate(
                zip(
                    ctx.schema.phone_columns,
                    lease.phones,
                    ctx.schema.phone_extensions(lease.data),
                    strict=False,
                )
            )
            if n
        ],
        attempts=lease.attempts,
        already_handled=already,
        pending_wrapup=lease.pending,
        history=found.history,
        wrapup_codes=list(ctx.codes.values()),
        allow_skip=ctx.settings.allow_skip or already is not None,
        allow_manual_dial=ctx.settings.allow_manual_dial,
        caller_ids=ctx.settings.caller_ids,
        default_caller_id=ctx.settings.caller_id(None),
        mode=ctx.mode.value,
        accept_by=lease.accept_by,
        preview_deadline=deadline,
        callback=(
            {
                "origin": (
                    "personal callback" if callback.kind == CallbackKind.PERSONAL else "callback"
                ),
                "state": callback.status.value,
                "due_at": callback.due_at,
                "number": callback.number,
                "note": callback.note,
            }
            if callback is not None
            else None
        ),
    )
