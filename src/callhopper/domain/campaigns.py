"""Campaigns: dialing modes, the state machine, settings and contact sorting."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from callhopper.domain.calls import MIN_RING_TIMEOUT_S
from callhopper.domain.contacts import FieldType, ListSchema, check_filter_fields
from callhopper.domain.errors import Conflict, InvalidInput
from callhopper.domain.filters import parse_filter
from callhopper.domain.hopper import HARD_CAP_PER_AGENT, SecondaryOrder
from callhopper.domain.limits import (
    MAX_FILTER_LENGTH,
    MAX_IDENTIFIER_LENGTH,
    MAX_PHONE_TEXT_LENGTH,
)
from callhopper.domain.pacing import DEFAULT_ABANDON_TARGET
from callhopper.domain.phones import PhoneError, normalise_phone

DEFAULT_LEASE_TIMEOUT_S = 30 * 60


class DialingMode(StrEnum):
    """Who starts a record's delivery and who dials it.

    * ``preview``: the agent pulls a record with Get Record and clicks Call (or the call is
      dialled when the campaign's preview timeout runs out);
    * ``push_preview``: the system pushes a record to an agent who is ready on the
      ``outbound_preview`` channel; the agent accepts it within the accept timeout, then
      calls. A rejection, or no answer in time, puts the record back on top of the list and
      sets the agent not ready;
    * ``direct_push_preview``: the system pushes records, whatever the agent's ready state,
      while their Get Record / Stop toggle is on; accepting dials;
    * ``progressive``: the system dials one call per available agent;
    * ``predictive``: the system dials ahead of the agents, pacing to an abandon-rate target.
    """

    PREVIEW = "preview"
    PUSH_PREVIEW = "push_preview"
    DIRECT_PUSH_PREVIEW = "direct_push_preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"

    @property
    def is_preview_type(self) -> bool:
        """The agent sees the record before the call is dialled (the modes that agent-owned
        records and lead ownership need)."""
        return not self.dials_by_itself

    @property
    def is_pushed(self) -> bool:
        """The system pushes records to agents on the real-time channel; Get Record only
        turns receiving on."""
        return self in (DialingMode.PUSH_PREVIEW, DialingMode.DIRECT_PUSH_PREVIEW)

    @property
    def dials_by_itself(self) -> bool:
        """The system places the calls and connects answered ones to agents."""
        return self in (DialingMode.PROGRESSIVE, DialingMode.PREDICTIVE)

    @property
    def dials_ahead(self) -> bool:
        """Calls are placed before an agent is free to take them (predictive): which agent
        gets an answered call is decided only when it is answered, so records that belong
        to one agent cannot be dialled this way."""
        return self is DialingMode.PREDICTIVE

    @property
    def serves_owners(self) -> bool:
        """Records that belong to an agent (agent-owned campaigns, lead ownership) can be
        worked in this mode: every mode but predictive."""
        return not self.dials_ahead

    @property
    def pushes_to_ready_agents(self) -> bool:
        """Records go to agents ready on the ``outbound_preview`` channel, who must accept
        each within the accept timeout; a rejection sets the agent not ready."""
        return self is DialingMode.PUSH_PREVIEW

    @property
    def dials_on_accept(self) -> bool:
        """Accepting a pushed record dials it."""
        return self is DialingMode.DIRECT_PUSH_PREVIEW

    @property
    def delivery(self) -> str:
        """How My Campaigns describes it: the agent pulls (manual) or the system pushes."""
        return "manual" if self is DialingMode.PREVIEW else "automatic"


#: Modes this version can run (every mode).
SUPPORTED_MODES = frozenset(DialingMode)
#: The modes whose records are pushed (:attr:`DialingMode.is_pushed`).
PUSH_MODES = frozenset(m for m in DialingMode if m.is_pushed)


class Channel(StrEnum):
    """An agent's media channels: on each the agent is ready or not ready."""

    VOICE = "voice"
    OUTBOUND_PREVIEW = "outbound_preview"


class CampaignState(StrEnum):
    """``off`` → ``on`` → ``stopping`` (until no record is leased) → ``complete``."""

    OFF = "off"
    ON = "on"
    STOPPING = "stopping"
    COMPLETE = "complete"

    @property
    def is_active(self) -> bool:
        """Agents still work its records (on, or stopping until the last lease ends): it
        shows in My Campaigns and cannot be deleted."""
        return self in (CampaignState.ON, CampaignState.STOPPING)


#: The states of a campaign that agents still work in (:attr:`CampaignState.is_active`).
ACTIVE_STATES = frozenset(s for s in CampaignState if s.is_active)


class CampaignAction(StrEnum):
    START = "start"
    STOP = "stop"
    RECYCLE = "recycle"


#: (state, action) → state after it. Stopping ends in complete once no record is leased.
TRANSITIONS: dict[tuple[CampaignState, CampaignAction], CampaignState] = {
    (CampaignState.OFF, CampaignAction.START): CampaignState.ON,
    (CampaignState.COMPLETE, CampaignAction.START): CampaignState.ON,
    (CampaignState.ON, CampaignAction.STOP): CampaignState.STOPPING,
    (CampaignState.ON, CampaignAction.RECYCLE): CampaignState.ON,
    (CampaignState.STOPPING, CampaignAction.RECYCLE): CampaignState.STOPPING,
    (CampaignState.COMPLETE, CampaignAction.RECYCLE): CampaignState.COMPLETE,
}


def transition(state: CampaignState, action: CampaignAction) -> CampaignState:
    """The state after ``action``, or :class:`Conflict` naming what is allowed instead."""
    after = TRANSITIONS.get((state, action))
    if after is None:
        allowed = sorted(a.value for (s, a) in TRANSITIONS if s is state)
        raise Conflict(
            f"a campaign that is {state.value} cannot {action.value}"
            + (f"; it can {', '.join(allowed)}" if allowed else ""),
            state=state.value,
        )
    return after


class SortKey(BaseModel):
    """One contact-sorting column; ties are broken by the record's id (its list order)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(max_length=MAX_IDENTIFIER_LENGTH)
    descending: bool = False


def check_sort(
    sort: tuple[SortKey, ...], schema: ListSchema, agent_owned_column: str | None
) -> None:
    """Sort columns must exist and be named once; the agent-owned column cannot be one
    (each agent gets their own records, so sorting by the owner would sort nothing)."""
    names = set(schema.column_names)
    seen: set[str] = set()
    for key in sort:
        if key.column not in names:
            raise InvalidInput(
                f"sort column {key.column!r} is not a column of the list", field="sort"
            )
        if key.column == agent_owned_column:
            raise InvalidInput(
                f"contacts cannot be sorted by the agent-owned column {key.column!r}", field="sort"
            )
        if key.column in seen:
            raise InvalidInput(f"sort column {key.column!r} is named twice", field="sort")
        seen.add(key.column)


def sort_is_numeric(schema: ListSchema, column: str) -> bool:
    spec = schema.column(column)
    return spec is not None and spec.type is FieldType.NUMBER


#: With ``reinsert_skipped``, how long a skipped record stays away (five minutes): the last
#: record left does not come straight back to the agent who skipped it.
DEFAULT_SKIP_REINSERT_DELAY_S = 300


class MachineAction(StrEnum):
    """What the dialing engine does with a call that answering-machine detection reports as
    answered by a machine (automatic modes)."""

    #: Hang up at once; the record is retried later like a no-answer.
    HANG_UP = "hang_up"
    #: Play the campaign's machine message, then hang up.
    MESSAGE = "message"
    #: Treat it as a person: connect it to an agent, who wraps it up.
    CONNECT = "connect"


class CampaignSettings(BaseModel):
    """The settings of a campaign that may change while it exists."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lease_timeout_s: int = Field(
        DEFAULT_LEASE_TIMEOUT_S,
        ge=30,
        le=24 * 3600,
        description="How long a delivered record stays with its agent without activity.",
    )
    allow_skip: bool = True
    reinsert_skipped: bool = Field(
        False,
        description="A skipped record goes to the back of the order instead of waiting "
        "for the next pass.",
    )
    skip_reinsert_delay_s: int = Field(
        DEFAULT_SKIP_REINSERT_DELAY_S,
        ge=0,
        le=24 * 3600,
        description="With reinsert_skipped: a skipped record comes back (at the back of the "
        "order) no sooner than this many seconds after the Skip.",
    )
    allow_manual_dial: bool = Field(
        False, description="Agents may type a new number to dial (validated like imports)."
    )
    preview_timeout_s: int | None = Field(
        None, ge=1, le=3600, description="Auto-dial after this long (unset: unlimited)."
    )
    accept_timeout_s: int = Field(
        30,
        ge=1,
        le=600,
        description="Push preview: a record not accepted in time goes back to the top of the "
        "list and the agent is set not ready.",
    )
    hopper_level: int = Field(
        100,
        ge=1,
        le=HARD_CAP_PER_AGENT,
        description="Lead ownership: leads of each kind a load tops up per logged-in agent.",
    )
    secondary_order: SecondaryOrder = Field(
        SecondaryOrder.FIFO,
        description="Lead ownership: after the sorting, oldest (fifo) or newest (lifo) first.",
    )
    default_lead_filter: str | None = Field(
        None,
        max_length=MAX_FILTER_LENGTH,
        description="Lead ownership: the lead filter of agents who have no skills.",
    )
    caller_ids: tuple[Annotated[str, Field(max_length=MAX_PHONE_TEXT_LENGTH)], ...] = Field(
        (),
        max_length=50,
        description="Numbers (E.164, with +) the campaign may show as caller ID; the agent "
        "picks one on Call.",
    )
    default_caller_id: str | None = Field(
        None,
        max_length=MAX_PHONE_TEXT_LENGTH,
        description="The caller ID when the agent picks none (default: the first).",
    )

    ring_timeout_s: int = Field(
        25,
        ge=int(MIN_RING_TIMEOUT_S),
        le=120,
        description="Automatic modes: how long a call rings before it counts as not answered.",
    )
    abandon_target: float = Field(
        DEFAULT_ABANDON_TARGET,
        gt=0.0,
        le=0.2,
        description="Predictive: the highest share of calls answered by a person that may be "
        "abandoned (not connected to an agent within 2 s), per day.",
    )
    abandon_message: str = Field(
        "abandoned-call",
        max_length=500,
        description="Automatic modes: the recording played to an abandoned call before it "
        "is hung up (the telephony adapter's name for it: a file, a URL).",
    )
    machine_action: MachineAction = Field(
        MachineAction.HANG_UP,
        description="Automatic modes: what to do with a call answered by a machine.",
    )
    machine_message: str = Field(
        "",
        max_length=500,
        description="The recording left on an answering machine (machine_action message).",
    )

    @field_validator("abandon_message", "machine_message")
    @classmethod
    def _strip_message(cls, value: str) -> str:
        return value.strip()

    @model_validator(mode="after")
    def _machine_message_given(self) -> CampaignSettings:
        if self.machine_action is MachineAction.MESSAGE and not self.machine_message:
            raise ValueError("machine_action message needs a machine_message")
        return self

    def check_for(self, mode: DialingMode) -> None:
        """What an automatic mode needs of the settings: a caller ID to show and, for
        predictive, a message for abandoned calls."""
        if not mode.dials_by_itself:
            return
        if not self.caller_ids:
            raise InvalidInput(
                f"a {mode.value} campaign needs at least one caller ID", field="settings.caller_ids"
            )
        if mode.dials_ahead and not self.abandon_message:
            raise InvalidInput(
                "a predictive campaign needs a message for abandoned calls",
                field="settings.abandon_message",
            )

    @field_validator("caller_ids")
    @classmethod
    def _check_caller_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_caller_id(v) for v in value))

    @field_validator("default_caller_id")
    @classmethod
    def _check_default_caller_id(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else _caller_id(value)

    @model_validator(mode="after")
    def _default_is_offered(self) -> CampaignSettings:
        if self.default_caller_id is not None and self.default_caller_id not in self.caller_ids:
            raise ValueError(f"default_caller_id {self.default_caller_id} is not one of caller_ids")
        return self

    def caller_id(self, chosen: str | None) -> str | None:
        """The caller ID of a call: ``chosen`` (one of :attr:`caller_ids`), else the default,
        else the first; ``None`` when the campaign has none."""
        if chosen is None:
            return self.default_caller_id or next(iter(self.caller_ids), None)
        try:
            number = _caller_id(chosen)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="caller_id") from None
        if number not in self.caller_ids:
            offered = ", ".join(self.caller_ids) or "none"
            raise InvalidInput(
                f"{number} is not a caller ID of this campaign (offered: {offered})",
                field="caller_id",
            )
        return number

    @field_validator("default_lead_filter")
    @classmethod
    def _check_filter(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parsed = parse_filter(value)
        check_filter_fields(parsed.fields())
        return parsed.to_text()

    def with_forced_fifo(self) -> tuple[CampaignSettings, list[str]]:
        """Reinserted skips need FIFO (else the owner meets the same lead again and again):
        LIFO is replaced by FIFO, with a notice saying so."""
        if self.reinsert_skipped and self.secondary_order is SecondaryOrder.LIFO:
            return self.model_copy(update={"secondary_order": SecondaryOrder.FIFO}), [
                "secondary_order set to fifo: skipped leads are reinserted, and LIFO would "
                "offer the same lead again and again"
            ]
        return self, []


def _caller_id(raw: str) -> str:
    """A caller ID as E.164; it must carry its country (``+``): a campaign has no region."""
    if not raw.strip().startswith("+"):
        raise ValueError(f"caller ID {raw!r} must be in international form (+ and country code)")
    try:
        return normalise_phone(raw, "ZZ")
    except PhoneError as exc:
        raise ValueError(str(exc)) from None
