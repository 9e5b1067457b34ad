"""Do-not-call lists: their values and the rules for the numbers they hold.

Numbers are kept in E.164, once per list. A campaign checks every list attached to it, among
them its **own** list, which collects the numbers its agents decline as *do not call* or close
with a wrap-up code that ``adds_to_dnc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from callhopper.domain.contacts import Rejection
from callhopper.domain.errors import InvalidInput
from callhopper.domain.names import MAX_NAME_LENGTH
from callhopper.domain.phones import PhoneError, check_region, normalise_phone

#: How many names a campaign's own list tries (``… do-not-call``, ``… (2)``, …) when the
#: natural one is taken.
CAMPAIGN_LIST_NAME_TRIES = 50


class DncSource(StrEnum):
    """How a number got onto a do-not-call list (``dnc_numbers.source``)."""

    #: A CSV import into the list.
    IMPORT = "import"
    #: Added through the API.
    API = "api"
    #: An agent declined a record as *do not call*.
    DECLINE = "decline"
    #: An agent closed a record with a wrap-up code that ``adds_to_dnc``.
    WRAPUP = "wrapup"

    @property
    def by_agent(self) -> bool:
        """The number was added by an agent's action on a campaign's record: it goes onto
        that campaign's own list."""
        return self in (DncSource.DECLINE, DncSource.WRAPUP)


#: The sources of numbers that agents add to a campaign's own list (:attr:`DncSource.by_agent`).
CAMPAIGN_SOURCES = frozenset(s for s in DncSource if s.by_agent)


@dataclass(frozen=True, slots=True)
class DncList:
    """A list; ``campaign_id`` is set on a campaign's own list."""

    id: int
    name: str
    description: str
    campaign_id: int | None
    created_at: datetime

    def view(self) -> dict[str, Any]:
        """The list as the audit log shows it."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "campaign_id": self.campaign_id,
        }


@dataclass(frozen=True, slots=True)
class DncListInfo:
    """A list with the campaigns that check it and how many numbers it holds."""

    list: DncList
    campaign_ids: tuple[int, ...]
    number_count: int


@dataclass(frozen=True, slots=True)
class DncNumber:
    number: str
    added_at: datetime
    source: DncSource


@dataclass(frozen=True, slots=True)
class DncNumberPage:
    """A page of a list's numbers in E.164 order; ``next_after`` is the last number of the
    page when there is another."""

    numbers: tuple[DncNumber, ...]
    next_after: str | None


@dataclass(frozen=True, slots=True)
class DncCheck:
    """Whether a number (E.164) is on the lists a campaign checks (without a campaign: on any
    list), and on which."""

    number: str
    campaign_id: int | None
    lists: tuple[DncList, ...]

    @property
    def blocked(self) -> bool:
        return bool(self.lists)


@dataclass(frozen=True, slots=True)
class NumberProblem:
    """An item of a request that was not used: its 1-based position, the value, why."""

    item: int
    number: str
    reason: str


@dataclass
class AddOutcome:
    """What adding numbers did: E.164 numbers added, already present, and items refused."""

    added: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    rejected: list[NumberProblem] = field(default_factory=list)


@dataclass
class RemoveOutcome:
    """What removing numbers did: removed, not in the list, and items refused."""

    removed: list[str] = field(default_factory=list)
    not_present: list[str] = field(default_factory=list)
    rejected: list[NumberProblem] = field(default_factory=list)


@dataclass
class DncImportReport:
    """What an import did. ``rejections`` holds the first :data:`REPORT_REJECTIONS_MAX`,
    in line order; ``rows_rejected`` counts them all."""

    list_id: int
    source: str
    rows_total: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def rejections_truncated(self) -> bool:
        """More rows were rejected than the report lists."""
        return self.rows_rejected > len(self.rejections)


def campaign_list_names(campaign_name: str) -> list[str]:
    """The names a campaign's own list tries, in order: ``Campaign <name> do-not-call``, then
    the same with `` (2)``, `` (3)``, … (each cut to :data:`MAX_NAME_LENGTH`)."""
    base = f"Campaign {campaign_name} do-not-call"[:MAX_NAME_LENGTH]
    names = []
    for attempt in range(1, CAMPAIGN_LIST_NAME_TRIES + 1):
        suffix = "" if attempt == 1 else f" ({attempt})"
        names.append(base[: MAX_NAME_LENGTH - len(suffix)] + suffix)
    return names


def campaign_list_description(campaign_name: str) -> str:
    return f"Numbers the agents of campaign {campaign_name!r} must not call."


def resolve_region(region: str | None, default_region: str) -> str:
    """The region numbers without ``+country`` are read in; :class:`InvalidInput` if unknown."""
    try:
        return check_region(region or default_region)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="region") from None


def normalise_number(raw: str, region: str, *, field_name: str = "number") -> str:
    """One number as E.164, or :class:`InvalidInput` naming ``field_name`` and the reason."""
    if not raw.strip():
        raise InvalidInput("the number is empty", field=field_name)
    try:
        return normalise_phone(raw.strip(), region)
    except PhoneError as exc:
        raise InvalidInput(str(exc), field=field_name) from None


def normalise_items(
    numbers: Sequence[str], region: str, rejected: list[NumberProblem]
) -> list[str]:
    """Distinct E.164 numbers in the order given; bad items and repeats go to ``rejected``."""
    first_item: dict[str, int] = {}
    for item, raw in enumerate(numbers, start=1):
        if not raw.strip():
            rejected.append(NumberProblem(item, raw, "the number is empty"))
            continue
        try:
            e164 = normalise_phone(raw.strip(), region)
        except PhoneError as exc:
            rejected.append(NumberProblem(item, raw, str(exc)))
            continue
        first = first_item.get(e164)
        if first is not None:
            rejected.append(NumberProblem(item, raw, f"duplicate of item {first} ({e164})"))
            continue
        first_item[e164] = item
    return list(first_item)


def campaign_numbers(numbers: Sequence[str], source: str) -> tuple[list[str], DncSource]:
    """The distinct numbers an agent's action puts on the campaign's own list, which must be
    E.164 already, and their source (``decline`` or ``wrapup``)."""
    if source not in CAMPAIGN_SOURCES:
        raise InvalidInput(
            f"source is one of {', '.join(sorted(CAMPAIGN_SOURCES))}, not {source!r}",
            field="source",
        )
    wanted: list[str] = []
    for raw in numbers:
        if not raw.startswith("+"):
            raise InvalidInput(f"{raw!r} is not an E.164 number", field="numbers")
        wanted.append(normalise_number(raw, "US", field_name="numbers"))
    return list(dict.fromkeys(wanted)), DncSource(source)
