"""Do-not-call lists: their numbers, CSV imports, and the lists each campaign checks (SPEC §4.5).

Numbers are stored in E.164, once per list. A campaign checks every list
attached to it (``campaign_dnc_lists``), among them its **own** list, which
collects the numbers its agents decline as *do not call* or close with a
wrap-up code that ``adds_to_dnc``. Every change is audited in the caller's
transaction.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from sqlalchemy import Insert, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from callhopper.domain.actors import Actor
from callhopper.domain.contacts import Rejection
from callhopper.domain.csvtext import numbered_rows, open_text, read_header
from callhopper.domain.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from callhopper.domain.phones import PhoneError, check_region, normalise_phone
from callhopper.store.audit import audit
from callhopper.store.models import Base, Campaign, CampaignDncList, DncList, DncNumber

#: Where a number came from (``dnc_numbers.source``).
NUMBER_SOURCES = frozenset({"import", "api", "decline", "wrapup"})
#: Sources of numbers added to a campaign's own list by agents' actions.
CAMPAIGN_SOURCES = frozenset({"decline", "wrapup"})
#: How many rejections an import report carries; the counts cover all of them. (Unlike
#: contact-list imports, DNC imports have no table to keep every rejected row.)
IMPORT_REJECTIONS_MAX = 1000
#: Numbers per statement: well under SQLite's bound-parameter limit.
_CHUNK = 500
_NAME_MAX = 200
_NAME_TRIES = 50
_NUMBER_HEADER = "number"


# --- lists -------------------------------------------------------------------------------------


def get_dnc_list(session: Session, list_id: int) -> DncList:
    """The list, or :class:`NotFound`."""
    dnc_list = session.get(DncList, list_id)
    if dnc_list is None:
        raise NotFound(f"no do-not-call list {list_id}", field="dnc_list_id")
    return dnc_list


def list_dnc_lists(session: Session) -> Sequence[DncList]:
    """Every list, by id."""
    return session.scalars(select(DncList).order_by(DncList.id)).all()


def number_counts(session: Session, list_ids: Sequence[int]) -> dict[int, int]:
    """How many numbers each of the lists holds (every id is in the answer)."""
    counts = dict.fromkeys(list_ids, 0)
    if not list_ids:
        return counts
    rows = session.execute(
        select(DncNumber.list_id, func.count())
        .where(DncNumber.list_id.in_(list(list_ids)))
        .group_by(DncNumber.list_id)
    )
    for list_id, count in rows:
        counts[list_id] = count
    return counts


def attached_campaign_ids(session: Session, list_id: int) -> list[int]:
    """The campaigns that check this list."""
    return attachments(session, [list_id])[list_id]


def attachments(session: Session, list_ids: Sequence[int]) -> dict[int, list[int]]:
    """The campaigns that check each of the lists (every id is in the answer)."""
    found: dict[int, list[int]] = {list_id: [] for list_id in list_ids}
    if not list_ids:
        return found
    rows = session.execute(
        select(CampaignDncList.dnc_list_id, CampaignDncList.campaign_id)
        .where(CampaignDncList.dnc_list_id.in_(list(list_ids)))
        .order_by(CampaignDncList.dnc_list_id, CampaignDncList.campaign_id)
    )
    for list_id, campaign_id in rows:
        found[list_id].append(campaign_id)
    return found


def create_dnc_list(
    session: Session, actor: Actor, *, name: str, description: str = "", now: datetime
) -> DncList:
    """A new, empty list; the name must be free."""
    name = _name(name)
    _name_free(session, name)
    dnc_list = DncList(name=name, description=description, created_at=now)
    session.add(dnc_list)
    session.flush()
    audit(
        session,
        actor,
        "dnc_list.create",
        "dnc_list",
        dnc_list.id,
        now=now,
        after=dnc_list_view(dnc_list),
    )
    return dnc_list


def update_dnc_list(
    session: Session,
    actor: Actor,
    list_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    now: datetime,
) -> DncList:
    """Rename or redescribe a list (a campaign's own list too)."""
    dnc_list = get_dnc_list(session, list_id)
    before = dnc_list_view(dnc_list)
    if name is not None:
        name = _name(name)
        _name_free(session, name, but=dnc_list.id)
        dnc_list.name = name
    if description is not None:
        dnc_list.description = description
    session.flush()
    audit(
        session,
        actor,
        "dnc_list.update",
        "dnc_list",
        dnc_list.id,
        now=now,
        before=before,
        after=dnc_list_view(dnc_list),
    )
    return dnc_list


def delete_dnc_list(session: Session, actor: Actor, list_id: int, *, now: datetime) -> None:
    """Delete a list with its numbers.

    Refused while a campaign checks it (detach it first: a campaign must not lose a
    list silently) and for a campaign's own list while the campaign exists (its
    agents' declines are the record of who asked not to be called).
    """
    dnc_list = get_dnc_list(session, list_id)
    if dnc_list.campaign_id is not None:
        raise Conflict(
            f"list {dnc_list.name!r} is the own do-not-call list of campaign "
            f"{dnc_list.campaign_id}; it can be deleted once the campaign is",
            field="dnc_list_id",
        )
    users = attached_campaign_ids(session, list_id)
    if users:
        names = session.scalars(
            select(Campaign.name).where(Campaign.id.in_(users)).order_by(Campaign.id)
        )
        raise Conflict(
            f"campaign(s) {', '.join(names)} check this list; detach it first",
            field="dnc_list_id",
            campaign_ids=users,
        )
    count = number_counts(session, [list_id])[list_id]
    audit(
        session,
        actor,
        "dnc_list.delete",
        "dnc_list",
        dnc_list.id,
        now=now,
        before={**dnc_list_view(dnc_list), "number_count": count},
    )
    session.execute(delete(DncNumber).where(DncNumber.list_id == list_id))
    session.delete(dnc_list)
    session.flush()


def dnc_list_view(dnc_list: DncList) -> dict[str, Any]:
    """The list as the audit log shows it."""
    return {
        "id": dnc_list.id,
        "name": dnc_list.name,
        "description": dnc_list.description,
        "campaign_id": dnc_list.campaign_id,
    }


def _name(value: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput("the name is empty", field="name")
    if len(value) > _NAME_MAX:
        raise InvalidInput(f"the name is longer than {_NAME_MAX} characters", field="name")
    return value


def _name_free(session: Session, name: str, *, but: int | None = None) -> None:
    other = session.scalar(select(DncList.id).where(DncList.name == name))
    if other is not None and other != but:
        raise AlreadyExists(f"a do-not-call list named {name!r} already exists", field="name")


# --- numbers -----------------------------------------------------------------------------------


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


def add_numbers(
    session: Session,
    actor: Actor,
    list_id: int,
    numbers: Sequence[str],
    *,
    region: str,
    source: str = "api",
    now: datetime,
    reason: str = "",
) -> AddOutcome:
    """Add numbers to a list. Each is read in ``region`` unless it has ``+country``.

    A number already in the list stays as it was (``already_present``); an item that
    is not a valid number, or repeats an earlier item, is reported in ``rejected``.
    """
    dnc_list = get_dnc_list(session, list_id)
    _check_source(source)
    outcome = AddOutcome()
    wanted = _normalise_items(numbers, region, outcome.rejected)
    added = _insert_numbers(session, dnc_list.id, wanted, source, now)
    outcome.added = [n for n in wanted if n in added]
    outcome.already_present = [n for n in wanted if n not in added]
    if outcome.added:
        audit(
            session,
            actor,
            "dnc.add",
            "dnc_list",
            dnc_list.id,
            now=now,
            after={"numbers": outcome.added, "source": source},
            reason=reason,
        )
    return outcome


def remove_numbers(
    session: Session,
    actor: Actor,
    list_id: int,
    numbers: Sequence[str],
    *,
    region: str,
    now: datetime,
) -> RemoveOutcome:
    """Remove numbers from a list; numbers not in it are reported, not an error."""
    dnc_list = get_dnc_list(session, list_id)
    outcome = RemoveOutcome()
    wanted = _normalise_items(numbers, region, outcome.rejected)
    removed: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        removed.update(
            session.scalars(
                delete(DncNumber)
                .where(DncNumber.list_id == dnc_list.id, DncNumber.e164.in_(chunk))
                .returning(DncNumber.e164)
            )
        )
    outcome.removed = [n for n in wanted if n in removed]
    outcome.not_present = [n for n in wanted if n not in removed]
    if outcome.removed:
        audit(
            session,
            actor,
            "dnc.remove",
            "dnc_list",
            dnc_list.id,
            now=now,
            before={"numbers": outcome.removed},
        )
    return outcome


def list_numbers(
    session: Session, list_id: int, *, after: str | None = None, limit: int = 100
) -> Sequence[DncNumber]:
    """A page of a list's numbers in E.164 order, from just after ``after``."""
    get_dnc_list(session, list_id)
    query = select(DncNumber).where(DncNumber.list_id == list_id)
    if after is not None:
        query = query.where(DncNumber.e164 > after)
    return session.scalars(query.order_by(DncNumber.e164).limit(limit)).all()


def _check_source(source: str) -> None:
    if source not in NUMBER_SOURCES:
        raise InvalidInput(
            f"source is one of {', '.join(sorted(NUMBER_SOURCES))}, not {source!r}",
            field="source",
        )


def _normalise_items(
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


def _insert_ignore(session: Session, table: type[Base]) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING``: a row already there (perhaps inserted by a
    concurrent transaction) is left alone instead of failing the transaction."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def _insert_numbers(
    session: Session, list_id: int, numbers: Sequence[str], source: str, now: datetime
) -> set[str]:
    """Insert the numbers not yet in the list; returns those inserted."""
    inserted: set[str] = set()
    for start in range(0, len(numbers), _CHUNK):
        rows = [
            {"list_id": list_id, "e164": n, "added_at": now, "source": source}
            for n in numbers[start : start + _CHUNK]
        ]
        statement = _insert_ignore(session, DncNumber).values(rows).returning(DncNumber.e164)
        inserted.update(session.scalars(statement))
    return inserted


# --- CSV import --------------------------------------------------------------------------------


@dataclass
class DncImportReport:
    """What an import did. ``rejections`` holds the first :data:`IMPORT_REJECTIONS_MAX`,
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


def import_numbers(
    session: Session,
    actor: Actor,
    list_id: int,
    stream: IO[bytes],
    *,
    region: str,
    source: str = "upload.csv",
    batch_rows: int = 5000,
    now: datetime,
) -> DncImportReport:
    """Add the numbers of a CSV file to a list, in the caller's transaction.

    The file is UTF-8 (with or without BOM) with a header row naming a ``number``
    column (any case; other columns are ignored); the separator (``,`` ``;`` or tab)
    is read from the header. It is read as a stream, in batches of ``batch_rows``.
    Each row is added or reported with its line number (the header is line 1) and
    reason: wrong column count, empty or invalid number, a number seen earlier in the
    file, or one already in the list. Memory grows with the distinct numbers of the
    file (to report repeats with their first line), not with its size. A file-level
    problem raises :class:`InvalidInput` and the caller rolls back. The caller owns
    ``stream`` and closes it.
    """
    dnc_list = get_dnc_list(session, list_id)
    report = DncImportReport(list_id=dnc_list.id, source=source[:500])
    text = open_text(stream)
    try:
        _Import(session, dnc_list.id, region, batch_rows, now, report).run(text)
    finally:
        text.detach()  # the caller owns the byte stream and closes it
    audit(
        session,
        actor,
        "dnc.import",
        "dnc_list",
        dnc_list.id,
        now=now,
        after={
            "source": report.source,
            "rows_total": report.rows_total,
            "rows_accepted": report.rows_accepted,
            "rows_rejected": report.rows_rejected,
        },
    )
    return report


class _Import:
    """One CSV import: reads rows, batches good numbers, reports the rest in line order."""

    def __init__(
        self,
        session: Session,
        list_id: int,
        region: str,
        batch_rows: int,
        now: datetime,
        report: DncImportReport,
    ) -> None:
        self.session = session
        self.list_id = list_id
        self.region = region
        self.batch_rows = max(1, batch_rows)
        self.now = now
        self.report = report
        #: Number → the line it was first seen on, for repeats within the file.
        self.seen: dict[str, int] = {}
        self.batch: list[tuple[int, str]] = []
        self.bad: list[Rejection] = []

    def run(self, text: io.TextIOWrapper) -> None:
        """Read the header and every row, storing and reporting batch by batch."""
        delimiter, width, position = _read_header(text)
        for line, fields in numbered_rows(text, delimiter):
            self.report.rows_total += 1
            self._row(line, fields, width, position)
            if len(self.batch) + len(self.bad) >= self.batch_rows:
                self._flush()
        self._flush()

    def _row(self, line: int, fields: list[str], width: int, position: int) -> None:
        if len(fields) != width:
            self.bad.append(
                Rejection(line, f"wrong column count: expected {width}, found {len(fields)}")
            )
            return
        raw = fields[position].strip()
        if not raw:
            self.bad.append(Rejection(line, "the number is empty", _NUMBER_HEADER))
            return
        try:
            e164 = normalise_phone(raw, self.region)
        except PhoneError as exc:
            self.bad.append(Rejection(line, str(exc), _NUMBER_HEADER))
            return
        first = self.seen.get(e164)
        if first is not None:
            self.bad.append(
                Rejection(
                    line, f"duplicate number {e164} (first seen on line {first})", _NUMBER_HEADER
                )
            )
            return
        self.seen[e164] = line
        self.batch.append((line, e164))

    def _flush(self) -> None:
        if self.batch:
            added = _insert_numbers(
                self.session, self.list_id, [n for _, n in self.batch], "import", self.now
            )
            self.report.rows_accepted += len(added)
            self.bad.extend(
                Rejection(line, f"number {e164} is already in the list", _NUMBER_HEADER)
                for line, e164 in self.batch
                if e164 not in added
            )
        if self.bad:
            # Batches are consecutive: sorting each keeps the whole report in line order.
            self.bad.sort(key=lambda r: r.line)
            self.report.rows_rejected += len(self.bad)
            room = IMPORT_REJECTIONS_MAX - len(self.report.rejections)
            if room > 0:
                self.report.rejections.extend(self.bad[:room])
        self.batch = []
        self.bad = []


def _read_header(text: io.TextIOWrapper) -> tuple[str, int, int]:
    """The separator, the number of fields, and the position of the ``number`` field."""
    delimiter, fields = read_header(text)
    names = [f.strip().casefold() for f in fields]
    positions = [i for i, name in enumerate(names) if name == _NUMBER_HEADER]
    if not positions:
        found = ", ".join(repr(f.strip()) for f in fields)
        raise InvalidInput(
            f"line 1: the header needs a {_NUMBER_HEADER!r} column (found {found}); "
            "a header row is required",
            field="header",
        )
    if len(positions) > 1:
        raise InvalidInput(
            f"line 1: the header has {len(positions)} {_NUMBER_HEADER!r} columns", field="header"
        )
    return delimiter, len(fields), positions[0]


# --- campaigns ---------------------------------------------------------------------------------


def campaign_lists(session: Session, campaign_id: int) -> Sequence[DncList]:
    """The lists a campaign checks, by id."""
    _campaign(session, campaign_id)
    return session.scalars(
        select(DncList)
        .join(CampaignDncList, CampaignDncList.dnc_list_id == DncList.id)
        .where(CampaignDncList.campaign_id == campaign_id)
        .order_by(DncList.id)
    ).all()


def set_campaign_lists(
    session: Session, actor: Actor, campaign_id: int, list_ids: Sequence[int], *, now: datetime
) -> Sequence[DncList]:
    """Make the campaign check exactly these lists.

    The campaign's own list cannot be left out (:class:`Conflict`): it holds the
    numbers its agents were asked not to call.
    """
    campaign = _campaign(session, campaign_id)
    wanted = list(dict.fromkeys(list_ids))
    for list_id in wanted:
        get_dnc_list(session, list_id)
    current = [d.id for d in campaign_lists(session, campaign.id)]
    own = session.scalar(select(DncList.id).where(DncList.campaign_id == campaign.id))
    if own is not None and own not in wanted:
        raise Conflict(
            f"do-not-call list {own} is the campaign's own list and stays attached",
            field="dnc_list_ids",
        )
    detach = [i for i in current if i not in wanted]
    attach = [i for i in wanted if i not in current]
    if detach:
        session.execute(
            delete(CampaignDncList).where(
                CampaignDncList.campaign_id == campaign.id,
                CampaignDncList.dnc_list_id.in_(detach),
            )
        )
    for list_id in attach:
        _attach(session, campaign.id, list_id)
    if attach or detach:
        audit(
            session,
            actor,
            "dnc_list.attach",
            "campaign",
            campaign.id,
            now=now,
            before={"dnc_list_ids": current},
            after={"dnc_list_ids": sorted(wanted)},
        )
    return campaign_lists(session, campaign.id)


def attach_list(
    session: Session, actor: Actor, campaign_id: int, list_id: int, *, now: datetime
) -> bool:
    """Make the campaign check the list too; ``False`` when it already did."""
    campaign = _campaign(session, campaign_id)
    get_dnc_list(session, list_id)
    if not _attach(session, campaign.id, list_id):
        return False
    audit(
        session,
        actor,
        "dnc_list.attach",
        "campaign",
        campaign.id,
        now=now,
        after={"dnc_list_id": list_id},
    )
    return True


def detach_list(
    session: Session, actor: Actor, campaign_id: int, list_id: int, *, now: datetime
) -> bool:
    """Stop checking a list; ``False`` when it was not attached. The campaign's own list
    cannot be detached (:class:`Conflict`)."""
    campaign = _campaign(session, campaign_id)
    dnc_list = get_dnc_list(session, list_id)
    if dnc_list.campaign_id == campaign.id:
        raise Conflict(
            f"do-not-call list {list_id} is the campaign's own list and stays attached",
            field="dnc_list_id",
        )
    removed = session.scalars(
        delete(CampaignDncList)
        .where(CampaignDncList.campaign_id == campaign.id, CampaignDncList.dnc_list_id == list_id)
        .returning(CampaignDncList.dnc_list_id)
    ).all()
    if not removed:
        return False
    audit(
        session,
        actor,
        "dnc_list.detach",
        "campaign",
        campaign.id,
        now=now,
        before={"dnc_list_id": list_id},
    )
    return True


def ensure_campaign_list(
    session: Session, actor: Actor, campaign_id: int, campaign_name: str, now: datetime
) -> DncList:
    """The campaign's own list, created (``Campaign <name> do-not-call``) and attached if
    need be. Idempotent, and safe when two transactions race to create it."""
    _campaign(session, campaign_id)
    own = session.scalar(select(DncList).where(DncList.campaign_id == campaign_id))
    if own is None:
        own = _create_campaign_list(session, actor, campaign_id, campaign_name, now)
    if _attach(session, campaign_id, own.id):
        audit(
            session,
            actor,
            "dnc_list.attach",
            "campaign",
            campaign_id,
            now=now,
            after={"dnc_list_id": own.id},
            reason="the campaign's own do-not-call list",
        )
    return own


def add_to_campaign_list(
    session: Session,
    actor: Actor,
    campaign_id: int,
    numbers: Sequence[str],
    source: str,
    now: datetime,
) -> list[str]:
    """Put E.164 numbers on the campaign's own list (an agent's *do not call* decline,
    ``source="decline"``, or a wrap-up code that ``adds_to_dnc``, ``source="wrapup"``).

    Returns the numbers newly added; numbers already there are left as they were.
    """
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
    wanted = list(dict.fromkeys(wanted))
    campaign = _campaign(session, campaign_id)
    own = ensure_campaign_list(session, actor, campaign.id, campaign.name, now)
    added = _insert_numbers(session, own.id, wanted, source, now)
    result = [n for n in wanted if n in added]
    if result:
        audit(
            session,
            actor,
            "dnc.add",
            "dnc_list",
            own.id,
            now=now,
            after={"numbers": result, "source": source, "campaign_id": campaign.id},
            reason=f"{source} in campaign {campaign.name!r}",
        )
    return result


def dnc_numbers_for_campaign(
    session: Session, campaign_id: int, numbers: Sequence[str]
) -> set[str]:
    """The numbers (E.164) that are on any list the campaign checks.

    One query for up to 500 numbers (a record's numbers are a handful), served by the
    ``e164`` index of ``dnc_numbers``.
    """
    wanted = list(dict.fromkeys(numbers))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        found.update(
            session.scalars(
                select(DncNumber.e164)
                .distinct()
                .join(CampaignDncList, CampaignDncList.dnc_list_id == DncNumber.list_id)
                .where(
                    CampaignDncList.campaign_id == campaign_id,
                    DncNumber.e164.in_(wanted[start : start + _CHUNK]),
                )
            )
        )
    return found


def lists_with_number(
    session: Session, number: str, campaign_id: int | None = None
) -> Sequence[DncList]:
    """The lists holding an E.164 number: among those the campaign checks, or all."""
    query = (
        select(DncList)
        .join(DncNumber, DncNumber.list_id == DncList.id)
        .where(DncNumber.e164 == number)
    )
    if campaign_id is not None:
        _campaign(session, campaign_id)
        query = query.join(CampaignDncList, CampaignDncList.dnc_list_id == DncList.id).where(
            CampaignDncList.campaign_id == campaign_id
        )
    return session.scalars(query.order_by(DncList.id)).all()


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}", field="campaign_id")
    return campaign


def _attach(session: Session, campaign_id: int, list_id: int) -> bool:
    """Attach unless attached already (also by a concurrent transaction)."""
    statement = (
        _insert_ignore(session, CampaignDncList)
        .values(campaign_id=campaign_id, dnc_list_id=list_id)
        .returning(CampaignDncList.dnc_list_id)
    )
    return session.scalar(statement) is not None


def _create_campaign_list(
    session: Session, actor: Actor, campaign_id: int, campaign_name: str, now: datetime
) -> DncList:
    base = f"Campaign {campaign_name} do-not-call"[:_NAME_MAX]
    for attempt in range(1, _NAME_TRIES + 1):
        suffix = "" if attempt == 1 else f" ({attempt})"
        name = base[: _NAME_MAX - len(suffix)] + suffix
        if session.scalar(select(DncList.id).where(DncList.name == name)) is not None:
            continue
        created = session.scalar(
            _insert_ignore(session, DncList)
            .values(
                name=name,
                description=f"Numbers the agents of campaign {campaign_name!r} must not call.",
                campaign_id=campaign_id,
                created_at=now,
            )
            .returning(DncList.id)
        )
        if created is None:
            # Either a concurrent transaction created this campaign's list, or took the name.
            raced = session.scalar(select(DncList).where(DncList.campaign_id == campaign_id))
            if raced is not None:
                return raced
            continue
        own = get_dnc_list(session, created)
        audit(
            session,
            actor,
            "dnc_list.create",
            "dnc_list",
            own.id,
            now=now,
            after=dnc_list_view(own),
            reason="the campaign's own do-not-call list",
        )
        return own
    raise Conflict(
        f"no free name for the own do-not-call list of campaign {campaign_name!r}",
        field="name",
    )
