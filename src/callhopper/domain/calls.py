"""Telephone calls as the dialing engine sees them: ids, requests, outcomes and events.

These values cross the telephony port (:mod:`callhopper.ports.telephony`): the engine asks
an adapter to originate a :class:`DialRequest`, and the adapter reports what happens to the
call as :data:`CallEvent` values. A call goes through these phases::

    originate ──▶ Ringing ──▶ Answered(by=PERSON)  ──▶ bridged to an agent ──▶ HungUp
                         │                        └─▶ message played ─────────▶ HungUp
                         ├─▶ Answered(by=MACHINE) ──▶ (engine hangs up) ──────▶ HungUp
                         └─▶ Unanswered(NO_ANSWER | BUSY | FAILED)

``Ringing`` is optional (some networks never report it, and a call can fail before it
rings). After ``Unanswered`` nothing more arrives for the call; after ``Answered`` exactly
one ``HungUp`` arrives, whoever hangs up first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NewType

from callhopper.domain.errors import CallhopperError

#: The engine's name for one call attempt, chosen by the engine before it originates, so
#: that an event can never arrive for a call the engine does not know yet.
CallId = NewType("CallId", str)

#: The shortest ring timeout a dial request may ask for: a no-answer is decided no sooner.
MIN_RING_TIMEOUT_S = 15.0
#: The SIP domain agents' phones register in unless one is configured (``sip:<user_id>@…``).
DEFAULT_AGENT_SIP_DOMAIN = "callhopper.local"

#: What an extension may hold: the keys of a telephone keypad.
_DTMF = re.compile(r"[0-9*#]{1,40}")


class CallOutcome(StrEnum):
    """How the ringing phase of a call ended."""

    #: A person answered (as far as answering-machine detection could tell).
    PERSON = "person"
    #: An answering machine or voicemail answered.
    MACHINE = "machine"
    #: Nobody answered before the ring timeout.
    NO_ANSWER = "no_answer"
    #: The line was busy.
    BUSY = "busy"
    #: The network refused the call (invalid number, congestion, …); see the event's code.
    FAILED = "failed"

    @property
    def answered(self) -> bool:
        return self in (CallOutcome.PERSON, CallOutcome.MACHINE)


class Party(StrEnum):
    """Who ended a call."""

    #: The person (or machine) who was called.
    CONTACT = "contact"
    #: The agent the call was bridged to.
    AGENT = "agent"
    #: The engine, through the port (a machine, an abandoned call after its message).
    ENGINE = "engine"
    #: The network or the adapter (a dropped line, a media failure).
    NETWORK = "network"


@dataclass(frozen=True, slots=True)
class DialRequest:
    """Everything an adapter needs to place one call."""

    call_id: CallId
    #: The number to call, in E.164 (``+14155550123``).
    number: str
    #: The number shown to the contact, in E.164.
    caller_id: str
    #: How long the phone may ring before the call counts as not answered, in seconds.
    ring_timeout_s: float = 25.0
    #: The extension written with the number (``ext. 12``: ``"12"``), to be dialled as
    #: DTMF tones once the call is answered; ``None`` when there is none. An adapter that
    #: cannot send tones says so in its documentation (the simulator has no audio and
    #: ignores it; the SIP adapter does not send it yet, see docs/telephony.md).
    extension: str | None = None

    def __post_init__(self) -> None:
        if self.ring_timeout_s < MIN_RING_TIMEOUT_S:
            raise ValueError(
                f"ring_timeout_s must be at least {MIN_RING_TIMEOUT_S:g} s, "
                f"not {self.ring_timeout_s:g}"
            )
        if self.extension is not None and not _DTMF.fullmatch(self.extension):
            raise ValueError(f"extension {self.extension!r} is not a string of DTMF digits")


@dataclass(frozen=True, slots=True)
class AgentLine:
    """Where an agent's audio is: what an adapter bridges an answered call to."""

    agent_id: str
    #: The adapter's address of the agent's endpoint: a SIP URI, a WebRTC session id, an
    #: extension. Opaque to the engine.
    address: str


@dataclass(frozen=True, slots=True)
class Ringing:
    """The called phone is ringing."""

    call_id: CallId
    at: datetime


@dataclass(frozen=True, slots=True)
class Answered:
    """The call was answered; ``by`` says whether by a person or by a machine, as decided by
    answering-machine detection (which can be wrong)."""

    call_id: CallId
    at: datetime
    by: CallOutcome

    def __post_init__(self) -> None:
        if not self.by.answered:
            raise ValueError(f"an answer is by a person or a machine, not {self.by}")


@dataclass(frozen=True, slots=True)
class Unanswered:
    """The call ended without being answered: no answer, busy, or failed (``code`` is the
    network's reason when it gave one, for example a SIP status such as ``"404"``)."""

    call_id: CallId
    at: datetime
    outcome: CallOutcome
    code: str | None = None

    def __post_init__(self) -> None:
        if self.outcome.answered:
            raise ValueError(f"{self.outcome} is an answer, not an unanswered outcome")


@dataclass(frozen=True, slots=True)
class HungUp:
    """An answered call ended; ``by`` is who hung up first."""

    call_id: CallId
    at: datetime
    by: Party


#: What the telephony port reports about calls, in the order it happened to each call.
CallEvent = Ringing | Answered | Unanswered | HungUp


class TelephonyError(CallhopperError):
    """A telephony adapter could not do what the engine asked."""

    code = "telephony_error"


class LinesExhausted(TelephonyError):
    """Every line the adapter may use is taken: the call was not placed. Dial again when a
    call ends."""

    code = "lines_exhausted"


class UnknownCall(TelephonyError):
    """The call does not exist (any more) in the adapter, or is not in a state that allows
    the request (bridging a call that was not answered, or that already ended)."""

    code = "unknown_call"
