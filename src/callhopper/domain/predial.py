"""Pre-dial do-not-call validation: which of a record's numbers may be dialled.

Before a number is dialled it is checked against the campaign's internal
do-not-call lists and, when one is configured, an external validation
service. Each number gets a :class:`Verdict`; :func:`plan_dial` then walks the
record's numbers in dialling order and picks the first one that is
``allowed``. A number whose verdict is anything else is **never** the number
to dial: a number on a do-not-call list, or one that could not be validated, is
never dialled.

The agent is told which of the four cases of the seed happened (:data:`MESSAGES`):

* on a do-not-call list, another number to try: ``dnc_next``, the next number is tried;
* on a do-not-call list, no other number: ``dnc_none``;
* not validated (service unavailable), another number: ``unavailable_next``;
* not validated, no other number: ``unavailable_none``.

When no number can be dialled the record is closed, and the reason is:

* ``dnc`` when **every** number is on a do-not-call list: the contact must not
  be called on any of them, whatever the service says later;
* ``not_validated`` otherwise, i.e. when at least one number could not be
  validated (and none was allowed): that number might be dialable once the
  service answers again, so the record is not branded do-not-call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from enum import StrEnum

from callhopper.domain.errors import InvalidInput


class Verdict(StrEnum):
    """What validation said about one number."""

    ALLOWED = "allowed"
    #: On an internal do-not-call list, or the validation service said so.
    DNC = "dnc"
    #: The validation service could not answer for this number (timeout, error …).
    UNAVAILABLE = "unavailable"


_VERDICTS = frozenset(v.value for v in Verdict)


class PredialCase(StrEnum):
    """Which case happened: ``clear`` (the first number may be dialled) or one of the four."""

    CLEAR = "clear"
    DNC_NEXT = "dnc_next"
    DNC_NONE = "dnc_none"
    UNAVAILABLE_NEXT = "unavailable_next"
    UNAVAILABLE_NONE = "unavailable_none"


class CloseReason(StrEnum):
    """Why a record with no dialable number is closed."""

    DNC = "dnc"
    NOT_VALIDATED = "not_validated"


#: The agent-facing messages, worded as in the agent workspace the seeds describe.
MESSAGES: dict[PredialCase, str] = {
    PredialCase.DNC_NEXT: (
        "The phone number is on the Do-Not-Call list. "
        "The next available phone number will be selected."
    ),
    PredialCase.DNC_NONE: "The phone number is on the Do-Not-Call list",
    PredialCase.UNAVAILABLE_NEXT: (
        "The phone number cannot be validated (Do-Not-Call list service is unavailable). "
        "The next available phone number will be selected."
    ),
    PredialCase.UNAVAILABLE_NONE: (
        "The phone number cannot be validated (Do-Not-Call list service is unavailable)."
    ),
}

#: A candidate number: its position among the record's phones (``None`` for a number the
#: agent typed) and the number in E.164.
Candidate = tuple[int | None, str]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A number that was not dialled, with its verdict and the message for it alone."""

    phone_index: int | None
    number: str
    verdict: Verdict
    #: ``*_next`` when a later candidate was tried after it, ``*_none`` for the last one.
    case: PredialCase

    @property
    def message(self) -> str:
        """The agent-facing message for this number."""
        return MESSAGES[self.case]


@dataclass(frozen=True, slots=True)
class DialPlan:
    """The outcome of pre-dial validation for one dial request.

    Either ``number`` is set (dial it) and ``close_reason`` is ``None``, or
    ``number`` is ``None`` and ``close_reason`` says how to close the record.
    """

    #: The number to dial, or ``None`` when none may be dialled.
    number: str | None
    phone_index: int | None
    #: The number dialled is the first candidate (the one the agent asked for, or the
    #: record's first number); ``False`` when nothing is dialled.
    requested: bool
    #: The case the agent is told about: ``clear`` when the first candidate is dialled;
    #: when another one is, the case of the first candidate (``dnc_next`` or
    #: ``unavailable_next``); when none is, the case matching ``close_reason``.
    case: PredialCase
    #: Every candidate passed over, in the order tried.
    skipped: tuple[Skipped, ...]
    close_reason: CloseReason | None

    @property
    def dial(self) -> bool:
        """A number may be dialled."""
        return self.number is not None

    @property
    def message(self) -> str | None:
        """The agent-facing message of :attr:`case` (``None`` when clear)."""
        return MESSAGES.get(self.case)


def plan_dial(candidates: Sequence[Candidate], verdict: Callable[[str], Verdict]) -> DialPlan:
    """Choose the number to dial: the first candidate, in order, whose verdict is ``allowed``.

    ``candidates`` are the record's numbers in dialling order, the agent's chosen
    number first when they picked one (see :func:`dialling_order`). ``verdict`` is
    asked about candidates in order until one is allowed. Raises
    :class:`InvalidInput` when there is no candidate at all.
    """
    if not candidates:
        raise InvalidInput("the record has no phone number to dial", field="phones")
    verdicts: list[Verdict] = []
    for index, number in candidates:
        found = Verdict(verdict(number))
        if found is Verdict.ALLOWED:
            skipped = _skipped(candidates, verdicts, last_tried=False)
            return DialPlan(
                number=number,
                phone_index=index,
                requested=not skipped,
                case=skipped[0].case if skipped else PredialCase.CLEAR,
                skipped=skipped,
                close_reason=None,
            )
        verdicts.append(found)
    skipped = _skipped(candidates, verdicts, last_tried=True)
    if all(v is Verdict.DNC for v in verdicts):
        reason, case = CloseReason.DNC, PredialCase.DNC_NONE
    else:
        reason, case = CloseReason.NOT_VALIDATED, PredialCase.UNAVAILABLE_NONE
    return DialPlan(
        number=None,
        phone_index=None,
        requested=False,
        case=case,
        skipped=skipped,
        close_reason=reason,
    )


def _skipped(
    candidates: Sequence[Candidate], verdicts: Sequence[Verdict], *, last_tried: bool
) -> tuple[Skipped, ...]:
    """The passed-over candidates; the last one is ``*_none`` only if nothing came after it."""
    result: list[Skipped] = []
    for position, found in enumerate(verdicts):
        final = last_tried and position == len(verdicts) - 1
        if found is Verdict.DNC:
            case = PredialCase.DNC_NONE if final else PredialCase.DNC_NEXT
        else:
            case = PredialCase.UNAVAILABLE_NONE if final else PredialCase.UNAVAILABLE_NEXT
        index, number = candidates[position]
        result.append(Skipped(index, number, found, case))
    return tuple(result)


def dialling_order(
    phones: Sequence[str | None], requested_index: int | None = None
) -> list[tuple[int, str]]:
    """A record's numbers as candidates: the requested one first, then the others in the
    list's dialling order. Empty phone slots are left out.

    Raises :class:`InvalidInput` when ``requested_index`` names no number of the record.
    """
    numbers = [(i, n) for i, n in enumerate(phones) if n]
    if requested_index is None:
        return numbers
    chosen = [c for c in numbers if c[0] == requested_index]
    if not chosen:
        raise InvalidInput(
            f"phone_index {requested_index} is not one of the record's numbers "
            f"({', '.join(str(i) for i, _ in numbers)})",
            field="phone_index",
        )
    return chosen + [c for c in numbers if c[0] != requested_index]


def combine_verdicts(
    numbers: Sequence[str], internal_dnc: Set[str], external: Mapping[str, Verdict]
) -> dict[str, Verdict]:
    """One verdict per number from the internal lists and the external service.

    A number on an internal list is ``dnc`` whatever the service said (or failed to
    say); otherwise the service's verdict counts, and a number it gave no verdict for,
    or anything that is not a verdict, is ``unavailable``. With no service configured,
    pass every number as ``allowed`` (:class:`callhopper.dnc_service.NoValidator`).
    """
    verdicts: dict[str, Verdict] = {}
    for number in numbers:
        if number in internal_dnc:
            verdicts[number] = Verdict.DNC
        else:
            verdicts[number] = _verdict(external.get(number))
    return verdicts


def _verdict(answer: object) -> Verdict:
    """A validator's answer as a verdict; a validator that breaks the port's contract
    (an unknown value) has not validated the number."""
    if isinstance(answer, str) and answer in _VERDICTS:
        return Verdict(answer)
    return Verdict.UNAVAILABLE


def numbers_of(phones: Sequence[str | None]) -> list[str]:
    """A record's numbers in dialling order, without its empty phone slots."""
    return [number for _, number in dialling_order(phones)]


def listed_plan(phones: Sequence[str | None], listed: Set[str]) -> DialPlan | None:
    """The dial plan of a record's own numbers from the campaign's do-not-call lists alone
    (``listed``: those of its numbers on a list the campaign checks); ``None`` for a
    record without a number. When its :attr:`DialPlan.close_reason` is ``dnc``, every
    number is on a list: the record is never delivered (a claim closes it as ``dnc`` and
    takes the next one) and no later answer of the validation service can change that."""
    candidates = dialling_order(phones)
    if not candidates:
        return None
    return plan_dial(candidates, lambda n: Verdict.DNC if n in listed else Verdict.ALLOWED)
