"""The agent's side: My Campaigns, a delivered record, Call, Decline, wrap-up and Done,
ready states and pushed records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from callhopper.api.ids import IntId
from callhopper.api.schemas.base import Body, Code, Identifier, Note, PhoneText
from callhopper.domain.campaigns import DialingMode
from callhopper.domain.wrapup import WrapupCodeSpec


class MyCampaignPublic(BaseModel):
    id: int
    name: str
    description: str
    status: str = Field(description="running, or stopping (no new records).")
    mode: DialingMode
    delivery: str = Field(description="manual (Get Record) or automatic (pushed).")
    logged_in: bool
    receiving: bool
    record_id: int | None = Field(description="The record delivered to you here, if any.")


class FieldPublic(BaseModel):
    name: str
    type: str
    editable: bool
    required: bool
    options: list[str]
    value: str | None


class PhonePublic(BaseModel):
    index: int
    column: str
    type: str
    number: str = Field(description="E.164.")
    extension: str | None = Field(
        None,
        description="The extension written with the number (ext. 12, x12, #12, ;ext=12), "
        "to dial once the call is answered; null when there is none.",
    )


class HistoryPublic(BaseModel):
    at: datetime
    kind: str
    campaign_name: str
    agent_user_id: str | None
    number: str | None
    code: str | None
    note: str
    caller_id: str | None = Field(
        None,
        description="The caller ID the call showed the contact (null: not a call, or the "
        "campaign had none).",
    )


class ConnectedCallPublic(BaseModel):
    """A call the dialing engine connected to the agent."""

    call_id: str
    number: str
    connected_at: datetime
    ended_at: datetime | None = Field(description="Null while the contact is on the line.")


class DeliveryPublic(BaseModel):
    campaign_id: int
    campaign_name: str
    record_id: int
    leased_at: datetime
    lease_expires_at: datetime
    timezone: str | None
    local_time: datetime | None
    calling_window_open: bool
    fields: list[FieldPublic]
    phones: list[PhonePublic]
    attempts: int
    already_handled: dict[str, Any] | None = Field(
        description="Handled in an earlier pass (pass_no, code, at): you may skip it."
    )
    pending_wrapup: dict[str, Any] | None
    history: list[HistoryPublic]
    wrapup_codes: list[WrapupCodeSpec]
    allow_skip: bool
    allow_manual_dial: bool = Field(
        description="Whether Call takes a number you type (checked against the DNC lists first)."
    )
    mode: DialingMode
    accept_by: datetime | None = Field(
        description="Push preview: accept before then, or the record goes back on top."
    )
    preview_deadline: datetime | None = Field(
        description="Preview timeout: dialled automatically then unless you call first."
    )
    callback: dict[str, Any] | None = Field(
        description="The callback that brought the record (origin, due_at, number, note), or "
        "the one you scheduled on it."
    )
    caller_ids: list[str] = Field(description="Caller IDs you may pick on Call.")
    default_caller_id: str | None = Field(
        description="The caller ID a Call shows when you pick none (null: none)."
    )
    call: ConnectedCallPublic | None = Field(
        None,
        description="Progressive and predictive campaigns: the call the dialer connected to "
        "you with this record (null otherwise).",
    )


class GetRecordPublic(BaseModel):
    delivery: DeliveryPublic | None
    reason: str | None = Field(
        None,
        description="When nothing was delivered: campaign_not_running, pushed, "
        "outside_calling_window, held_by_another_campaign, waiting_for_retry, hopper_empty "
        "or list_exhausted.",
    )
    message: str | None = None
    next_retry_at: datetime | None = None
    held_by: str | None = Field(
        None, description="held_by_another_campaign: the campaign holding the record freed first."
    )
    held_until: datetime | None = Field(
        None, description="held_by_another_campaign: until when (null: no expiry)."
    )


class CallIn(Body):
    phone_index: IntId | None = Field(
        None, description="Which of the record's numbers (default: first)."
    )
    number: PhoneText | None = Field(
        None, description="A new number, where the campaign allows it."
    )
    caller_id: PhoneText | None = Field(
        None, description="One of the campaign's caller IDs (default: the campaign's default)."
    )


class CallPublic(BaseModel):
    record_id: int
    number: str | None = Field(description="The number dialled; null when none could be.")
    phone_index: int | None
    case: str = Field(
        description="Pre-dial validation: clear, dnc_next, dnc_none, unavailable_next or "
        "unavailable_none."
    )
    message: str = Field(description="What to tell the agent (empty when clear).")
    skipped: list[dict[str, Any]] = Field(
        description="Numbers passed over: number, phone_index, verdict, message."
    )
    closed: str | None = Field(
        description="dnc or not_validated: no number could be dialled, the record is closed."
    )
    caller_id: str | None = Field(
        None, description="The caller ID the call shows (null: the campaign has none)."
    )
    extension: str | None = Field(
        None,
        description="The extension to dial once the call is answered (null: the number "
        "dialled has none).",
    )


class DeclineIn(Body):
    action: Identifier = Field(description="call_later or do_not_call")


class WrapupIn(Body):
    code: Code
    note: Note = ""
    fields: dict[str, Any] = Field(
        default_factory=dict, description="Edited fields: column → value."
    )


class DoneIn(Body):
    code: Code | None = Field(None, description="Unset: the wrap-up chosen before.")
    note: Note | None = None
    fields: dict[str, Any] | None = None
    stop: bool = Field(False, description="Done and Stop: receive no more until Get Record.")


class LeasePublic(BaseModel):
    record_id: int
    lease_expires_at: datetime


class ReceivingIn(Body):
    on: bool = Field(description="Direct push preview's Get Record (true) / Stop (false).")


class ReadyIn(Body):
    ready: bool


class AgentStatePublic(BaseModel):
    channels: dict[str, bool] = Field(description="voice / outbound_preview → ready")


class AcceptPublic(BaseModel):
    record_id: int
    dialled: CallPublic | None = Field(description="Direct push preview: accepting dials.")
