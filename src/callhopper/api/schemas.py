"""Request and response bodies: Create / Update / Public families, apart from storage models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from callhopper.api.ids import IntId
from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaign_ownership import OwnershipSettings
from callhopper.domain.campaigns import CampaignSettings, CampaignState, DialingMode, SortKey
from callhopper.domain.contacts import ColumnSpec, PhoneColumnSpec, TimezoneSource
from callhopper.domain.ownership import OwnerOrder
from callhopper.domain.wrapup import WrapupCodeSpec

OnDuplicate = Literal["reject", "update"]


class Body(BaseModel):
    """A request body: unknown fields are refused, and so is a NUL character in any text.

    PostgreSQL's text and JSON cannot hold NUL (``\\u0000``), and SQLite would store it where
    PostgreSQL refuses it, so a request carrying one is refused on both: a 422 naming the
    field (and the place inside it) rather than the database's error.
    """

    model_config = ConfigDict(extra="forbid")

    #: Fields whose items are checked one by one by the code they go to (an import rejects a
    #: row with NUL and keeps the others): not refused here as a whole.
    checked_per_item: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name not in cls.checked_per_item:
            where = nul_in(value)
            if where is not None:
                raise PydanticCustomError(
                    "nul_character",
                    "contains a NUL character{where}, which text cannot hold",
                    {"where": f" at {where}" if where else ""},
                )
        return value


def nul_in(value: Any) -> str | None:
    """Where ``value`` (as parsed from JSON) holds a NUL character: ``""`` for ``value``
    itself, else the path to it (``columns.2.name``); ``None`` when nowhere."""
    if isinstance(value, str):
        return "" if "\x00" in value else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return f"key {key!r}"
        inner = nul_in(item)
        if inner is not None:
            return f"{key}.{inner}" if inner else str(key)
    return None


# --- auth --------------------------------------------------------------------------------------


class LoginIn(Body):
    email: str
    password: str


class MePublic(BaseModel):
    user_id: str
    email: str
    display_name: str
    role: str
    rights: list[str]


class TokenCreate(Body):
    name: str = Field(min_length=1, max_length=200)
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="Unset: never expires.")


class TokenPublic(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret. Shown once; only a hash is stored.")


# --- users and roles ---------------------------------------------------------------------------


class UserCreate(Body):
    email: str
    display_name: str = ""
    role: str = "agent"
    password: str | None = Field(None, description="Unset: the user can only use API tokens.")
    user_id: str | None = Field(None, description="Unset: one is generated.")


class UserUpdate(Body):
    email: str | None = None
    display_name: str | None = None
    role: str | None = None
    password: str | None = None


class UserPublic(BaseModel):
    user_id: str
    email: str
    display_name: str
    role: str
    active: bool
    created_at: datetime
    deactivated_at: datetime | None
    skill_ids: list[int]
    queue_ids: list[int]


class SkillIds(Body):
    skill_ids: list[IntId]


class RoleCreate(Body):
    name: str
    description: str = ""
    rights: list[str] | None = Field(None, description="Explicit rights of the role.")
    based_on: str | None = Field(None, description="Start from this role's rights ...")
    without: list[str] = Field(default_factory=list, description="... and drop these.")


class RoleUpdate(Body):
    description: str | None = None
    rights: list[str] | None = None


class RolePublic(BaseModel):
    name: str
    description: str
    builtin: bool
    rights: list[str]


# --- queues and skills -------------------------------------------------------------------------


class QueueCreate(Body):
    name: str
    description: str = ""


class QueueUpdate(Body):
    name: str | None = None
    description: str | None = None


class QueuePublic(BaseModel):
    id: int
    name: str
    description: str
    member_user_ids: list[str]


class UserIds(Body):
    user_ids: list[str] = Field(min_length=1)


class SkillCreate(Body):
    name: str
    expression: str = Field(
        description='A lead filter, e.g. state == "AZ" or state in ("CA", "NV")'
    )
    description: str = ""


class SkillUpdate(Body):
    name: str | None = None
    expression: str | None = None
    description: str | None = None


class SkillPublic(BaseModel):
    id: int
    name: str
    expression: str
    description: str
    filter: dict[str, Any] = Field(description="The expression as AND-groups joined by OR.")


# --- contact lists -----------------------------------------------------------------------------


class ListSchemaIn(Body):
    columns: list[ColumnSpec | str] = Field(
        min_length=1, description="Column names, or full column specs (type, required, editable)."
    )
    phone_columns: list[PhoneColumnSpec | str] = Field(min_length=1)
    timezone_source: TimezoneSource | None = None
    agent_owned_column: str | None = None
    lead_owner_column: str | None = Field(
        None, description="Column naming each lead's owner (user id or email), set at import."
    )
    key_column: str | None = None
    default_region: str | None = Field(None, description="Unset: the server's default region.")
    default_timezone: str | None = None


class ContactListCreate(ListSchemaIn):
    name: str
    description: str = ""


class ContactListUpdate(Body):
    name: str | None = None
    description: str | None = None
    schema_: ListSchemaIn | None = Field(None, alias="schema")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ContactListPublic(BaseModel):
    id: int
    name: str
    description: str
    columns: list[ColumnSpec]
    phone_columns: list[PhoneColumnSpec]
    timezone_source: TimezoneSource | None
    agent_owned_column: str | None
    lead_owner_column: str | None
    key_column: str | None
    default_region: str
    default_timezone: str | None
    ownership: OwnershipSettings = Field(description="Campaign ownership of records (SPEC §6).")
    record_count: int
    created_at: datetime
    updated_at: datetime


class RejectionPublic(BaseModel):
    line: int = Field(description="CSV line (header = 1), or 1-based item number of a JSON batch.")
    column: str | None
    reason: str


class ImportPublic(BaseModel):
    import_id: int
    list_id: int
    source: str
    format: str
    started_at: datetime
    finished_at: datetime | None
    rows_total: int
    rows_accepted: int = Field(description="Rows stored: new records, plus records updated.")
    rows_updated: int = Field(description="Rows that updated a record with the same key.")
    rows_rejected: int


class ImportReportPublic(ImportPublic):
    rejections: list[RejectionPublic]
    rejections_truncated: bool = Field(
        description="True when more rejections exist than listed here; page through "
        "GET /contact-lists/{list_id}/imports/{import_id}/rejections."
    )


class RecordsIn(Body):
    checked_per_item = frozenset({"records"})

    records: list[dict[str, Any]] = Field(min_length=1, max_length=10000)
    on_duplicate: OnDuplicate = Field(
        "reject", description="A key already in the list: reject the row, or update the record."
    )


class RecordUpdate(Body):
    data: dict[str, Any] = Field(
        min_length=1, description="Column → new value (empty or null clears it)."
    )


class RecordPublic(BaseModel):
    id: int
    list_id: int
    key: str | None
    data: dict[str, str]
    phones: list[str | None]
    tz: str | None
    owner_user_id: str | None
    created_at: datetime
    updated_at: datetime
    campaign_owner: CampaignOwnerPublic | None = Field(
        None,
        description="The campaign that owns the record now (SPEC §6); shown only to users "
        "with contact_list.ownership_control.",
    )


# --- wrap-up codes -----------------------------------------------------------------------------


class WrapupSetCreate(Body):
    name: str
    description: str = ""
    codes: list[WrapupCodeSpec] | None = Field(
        None, description="Unset: a copy of the default codes."
    )


class WrapupSetUpdate(Body):
    name: str | None = None
    description: str | None = None
    codes: list[WrapupCodeSpec] | None = Field(
        None, description="The full new list of codes (codes are matched by their `code`)."
    )


class WrapupSetPublic(BaseModel):
    id: int
    name: str
    description: str
    codes: list[WrapupCodeSpec]


# --- audit -------------------------------------------------------------------------------------


class AuditPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str


# --- campaigns ---------------------------------------------------------------------------------


class CampaignCreate(Body):
    name: str
    description: str = ""
    list_id: IntId
    queue_id: IntId
    wrapup_set_id: IntId = Field(1, description="Default: the built-in Default set.")
    mode: DialingMode = DialingMode.PREVIEW
    agent_owned_column: str | None = Field(
        None, description="Deliver each record only to the agent its column names (SPEC §5)."
    )
    owner_order: OwnerOrder = OwnerOrder.EMAIL_FIRST
    enforce_lead_ownership: bool = Field(
        False, description="Lead owners with a per-agent hopper (SPEC §7); preview modes only."
    )
    sort: list[SortKey] = Field(default_factory=list)
    calling_window: CallingWindow = Field(default_factory=CallingWindow)
    settings: CampaignSettings = Field(default_factory=CampaignSettings)


class CampaignUpdate(Body):
    """Only the fields sent change. Mode, queue, list and agent-owned column are fixed."""

    name: str | None = None
    description: str | None = None
    wrapup_set_id: IntId | None = None
    mode: DialingMode | None = None
    queue_id: IntId | None = None
    list_id: IntId | None = None
    agent_owned_column: str | None = None
    enforce_lead_ownership: bool | None = None
    owner_order: OwnerOrder | None = None
    sort: list[SortKey] | None = None
    calling_window: dict[str, Any] | None = Field(
        None,
        description="Fields of the calling window (as in POST /campaigns); only those sent "
        "change, and the result is validated as a whole.",
    )
    settings: dict[str, Any] | None = Field(
        None,
        description="Fields of the campaign's settings (as in POST /campaigns); only those "
        "sent change, and the result is validated as a whole.",
    )


class CampaignPublic(BaseModel):
    id: int
    name: str
    description: str
    list_id: int
    queue_id: int
    wrapup_set_id: int
    mode: DialingMode
    state: CampaignState
    agent_owned_column: str | None
    enforce_lead_ownership: bool
    owner_order: OwnerOrder
    sort: list[SortKey]
    calling_window: CallingWindow
    settings: CampaignSettings
    pass_no: int
    started_at: datetime | None
    stopped_at: datetime | None
    completed_at: datetime | None
    recycled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    notices: list[str] = Field(
        default_factory=list, description="Settings adjusted on the way in, and why."
    )


class ProgressPublic(BaseModel):
    total: int
    delivered: int = Field(description="Delivered at least once in this pass.")
    handled: int = Field(description="Done, skipped or declined in this pass.")
    remaining: int = Field(description="Not yet handled in this pass (includes the ones out now).")
    errors: int = Field(description="Undeliverable: see the error monitor.")
    final: int = Field(description="Closed for this campaign.")


class AgentProgressPublic(ProgressPublic):
    user_id: str
    display_name: str


class CampaignProgressPublic(BaseModel):
    campaign_id: int
    state: CampaignState
    pass_no: int
    campaign: ProgressPublic
    agents: list[AgentProgressPublic]


class ErrorMonitorPublic(BaseModel):
    campaign_id: int
    total: int
    counts: dict[str, int] = Field(description="Undeliverable records by reason.")


class ErrorRecordPublic(BaseModel):
    record_id: int
    reason: str
    owner_value: str | None
    owner_user_id: str | None
    data: dict[str, str]


class AssignmentPublic(BaseModel):
    id: int
    campaign_id: int
    campaign_name: str
    list_id: int
    record_id: int
    agent_user_id: str
    pass_no: int
    leased_at: datetime
    released_at: datetime | None
    outcome: str | None
    code: str | None


# --- the agent's side --------------------------------------------------------------------------


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
    number: str


class HistoryPublic(BaseModel):
    at: datetime
    kind: str
    campaign_name: str
    agent_user_id: str | None
    number: str | None
    code: str | None
    note: str


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


class GetRecordPublic(BaseModel):
    delivery: DeliveryPublic | None
    reason: str | None = Field(
        None,
        description="When nothing was delivered: campaign_not_running, outside_calling_window, "
        "waiting_for_retry or list_exhausted.",
    )
    message: str | None = None
    next_retry_at: datetime | None = None


class CallIn(Body):
    phone_index: IntId | None = Field(
        None, description="Which of the record's numbers (default: first)."
    )
    number: str | None = Field(None, description="A new number, where the campaign allows it.")
    caller_id: str | None = Field(
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


class DeclineIn(Body):
    action: str = Field(description="call_later or do_not_call")


class WrapupIn(Body):
    code: str
    note: str = ""
    fields: dict[str, Any] = Field(
        default_factory=dict, description="Edited fields: column → value."
    )


class DoneIn(Body):
    code: str | None = Field(None, description="Unset: the wrap-up chosen before.")
    note: str | None = None
    fields: dict[str, Any] | None = None
    stop: bool = Field(False, description="Done and Stop: receive no more until Get Record.")


class LeasePublic(BaseModel):
    record_id: int
    lease_expires_at: datetime


# --- campaign ownership of records -------------------------------------------------------------


class OwnerCountPublic(BaseModel):
    campaign_id: int
    campaign_name: str
    records: int


class OwnershipTabPublic(BaseModel):
    list_id: int
    settings: OwnershipSettings
    campaigns: list[OwnerCountPublic] = Field(description="Campaigns owning records now.")
    total: int


class ReleaseIn(Body):
    campaign_ids: list[IntId] | None = Field(None, description="Release these campaigns' records …")
    all: bool = Field(False, description="… or every campaign's.")
    reason: str = Field(
        "", max_length=500, description="Why (the audit's reason; default: who released)."
    )


class ReleasePublic(BaseModel):
    released: dict[int, int] = Field(description="campaign id → records released")
    total: int


class OwnershipTrackingPublic(BaseModel):
    list_id: int
    list_name: str
    campaign_id: int
    campaign_name: str
    owned: int
    expiring_24h: int = Field(description="Owned now, ownership ending in the next 24 hours.")
    released_24h: int = Field(description="Released or expired in the last 24 hours.")


class CampaignOwnerPublic(BaseModel):
    campaign_id: int
    campaign_name: str
    owned_at: datetime
    expires_at: datetime | None


class CallbackIn(Body):
    at: datetime = Field(
        description="When to call back; without a UTC offset it is the contact's local time."
    )
    kind: Literal["personal", "any"] = Field(
        "personal", description="personal: back to you (or the record's owner); any: any agent."
    )
    number: str | None = Field(None, description="Another number to call back.")
    note: str = ""


class CallbackPublic(BaseModel):
    id: int
    campaign_id: int
    record_id: int
    kind: str
    agent_user_id: str | None = Field(description="Who gets it; null for any agent.")
    due_at: datetime
    number: str | None
    note: str
    status: str


class WaitingCallbackPublic(CallbackPublic):
    agent_logged_in: bool = Field(description="Whether the agent it waits for is logged in.")


class ReceivingIn(Body):
    on: bool = Field(description="Direct push preview's Get Record (true) / Stop (false).")


class ReadyIn(Body):
    ready: bool


class AgentStatePublic(BaseModel):
    channels: dict[str, bool] = Field(description="voice / outbound_preview → ready")


class AcceptPublic(BaseModel):
    record_id: int
    dialled: CallPublic | None = Field(description="Direct push preview: accepting dials.")
