"""Do-not-call lists in SQL: :class:`SqlDncStore` (:class:`callhopper.ports.dnc.DncStore`),
and the campaign's check and own list that an agent's Done uses
(:func:`dnc_numbers_for_campaign`, :func:`add_to_campaign_list`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Insert, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from callhopper.domain.actors import Actor
from callhopper.domain.dnc import (
    DncList,
    DncNumber,
    DncSource,
    campaign_list_description,
    campaign_list_names,
    campaign_numbers,
)
from callhopper.domain.errors import Conflict, NotFound
from callhopper.store.audit import audit
from callhopper.store.models import Base, Campaign, CampaignDncList
from callhopper.store.models import DncList as List
from callhopper.store.models import DncNumber as Number

#: Numbers per statement: well under SQLite's bound-parameter limit.
_CHUNK = 500


def _list(row: List) -> DncList:
    return DncList(
        id=row.id,
        name=row.name,
        description=row.description,
        campaign_id=row.campaign_id,
        created_at=row.created_at,
    )


class SqlDncStore:
    """:class:`callhopper.ports.dnc.DncStore` in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def dnc_list(self, list_id: int) -> DncList | None:
        row = self.session.get(List, list_id)
        return _list(row) if row is not None else None

    def dnc_lists(self) -> list[DncList]:
        return [_list(r) for r in self.session.scalars(select(List).order_by(List.id))]

    def list_named(self, name: str) -> int | None:
        return self.session.scalar(select(List.id).where(List.name == name))

    def add_list(self, *, name: str, description: str, now: datetime) -> DncList:
        row = List(name=name, description=description, created_at=now)
        self.session.add(row)
        self.session.flush()
        return _list(row)

    def change_list(self, list_id: int, *, name: str | None, description: str | None) -> DncList:
        row = self._get(list_id)
        if name is not None:
            row.name = name
        if description is not None:
            row.description = description
        self.session.flush()
        return _list(row)

    def delete_list(self, list_id: int) -> None:
        self.session.execute(delete(Number).where(Number.list_id == list_id))
        self.session.delete(self._get(list_id))
        self.session.flush()

    def number_counts(self, list_ids: Sequence[int]) -> dict[int, int]:
        counts = dict.fromkeys(list_ids, 0)
        if not list_ids:
            return counts
        rows = self.session.execute(
            select(Number.list_id, func.count())
            .where(Number.list_id.in_(list(list_ids)))
            .group_by(Number.list_id)
        )
        for list_id, count in rows:
            counts[list_id] = count
        return counts

    def attachments(self, list_ids: Sequence[int]) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {list_id: [] for list_id in list_ids}
        if not list_ids:
            return found
        rows = self.session.execute(
            select(CampaignDncList.dnc_list_id, CampaignDncList.campaign_id)
            .where(CampaignDncList.dnc_list_id.in_(list(list_ids)))
            .order_by(CampaignDncList.dnc_list_id, CampaignDncList.campaign_id)
        )
        for list_id, campaign_id in rows:
            found[list_id].append(campaign_id)
        return found

    def campaign_names(self, campaign_ids: Sequence[int]) -> dict[int, str]:
        rows = self.session.execute(
            select(Campaign.id, Campaign.name)
            .where(Campaign.id.in_(list(campaign_ids)))
            .order_by(Campaign.id)
        )
        return {campaign_id: name for campaign_id, name in rows}  # noqa: C416 (rows, not pairs)

    def insert_numbers(
        self, list_id: int, numbers: Sequence[str], source: DncSource, now: datetime
    ) -> set[str]:
        return _insert_numbers(self.session, list_id, numbers, source, now)

    def delete_numbers(self, list_id: int, numbers: Sequence[str]) -> set[str]:
        removed: set[str] = set()
        for start in range(0, len(numbers), _CHUNK):
            chunk = numbers[start : start + _CHUNK]
            removed.update(
                self.session.scalars(
                    delete(Number)
                    .where(Number.list_id == list_id, Number.e164.in_(chunk))
                    .returning(Number.e164)
                )
            )
        return removed

    def numbers(self, list_id: int, *, after: str | None, limit: int) -> list[DncNumber]:
        query = select(Number).where(Number.list_id == list_id)
        if after is not None:
            query = query.where(Number.e164 > after)
        rows = self.session.scalars(query.order_by(Number.e164).limit(limit))
        return [DncNumber(r.e164, r.added_at, DncSource(r.source)) for r in rows]

    def campaign_lists(self, campaign_id: int) -> list[DncList]:
        query = (
            select(List)
            .join(CampaignDncList, CampaignDncList.dnc_list_id == List.id)
            .where(CampaignDncList.campaign_id == campaign_id)
            .order_by(List.id)
        )
        return [_list(r) for r in self.session.scalars(query)]

    def own_list(self, campaign_id: int) -> DncList | None:
        row = self.session.scalar(select(List).where(List.campaign_id == campaign_id))
        return _list(row) if row is not None else None

    def attach(self, campaign_id: int, list_id: int) -> bool:
        return _attach(self.session, campaign_id, list_id)

    def detach(self, campaign_id: int, list_ids: Sequence[int]) -> set[int]:
        return set(
            self.session.scalars(
                delete(CampaignDncList)
                .where(
                    CampaignDncList.campaign_id == campaign_id,
                    CampaignDncList.dnc_list_id.in_(list(list_ids)),
                )
                .returning(CampaignDncList.dnc_list_id)
            )
        )

    def lists_with_number(self, number: str, campaign_id: int | None) -> list[DncList]:
        query = select(List).join(Number, Number.list_id == List.id).where(Number.e164 == number)
        if campaign_id is not None:
            query = query.join(CampaignDncList, CampaignDncList.dnc_list_id == List.id).where(
                CampaignDncList.campaign_id == campaign_id
            )
        return [_list(r) for r in self.session.scalars(query.order_by(List.id))]

    def blocked_numbers(self, campaign_id: int, numbers: Sequence[str]) -> set[str]:
        return dnc_numbers_for_campaign(self.session, campaign_id, numbers)

    def add_to_campaign_list(
        self,
        actor: Actor,
        campaign_id: int,
        numbers: Sequence[str],
        source: DncSource,
        now: datetime,
    ) -> list[str]:
        return add_to_campaign_list(self.session, actor, campaign_id, numbers, source, now)

    def _get(self, list_id: int) -> List:
        row = self.session.get(List, list_id)
        if row is None:
            raise NotFound(f"no do-not-call list {list_id}", field="dnc_list_id")
        return row


# --- the campaign's check and own list (an agent's Done) ----------------------------------------


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
                select(Number.e164)
                .distinct()
                .join(CampaignDncList, CampaignDncList.dnc_list_id == Number.list_id)
                .where(
                    CampaignDncList.campaign_id == campaign_id,
                    Number.e164.in_(wanted[start : start + _CHUNK]),
                )
            )
        )
    return found


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
    wanted, checked = campaign_numbers(numbers, source)
    campaign = _campaign(session, campaign_id)
    own = ensure_campaign_list(session, actor, campaign.id, campaign.name, now)
    added = _insert_numbers(session, own.id, wanted, checked, now)
    result = [n for n in wanted if n in added]
    if result:
        audit(
            session,
            actor,
            "dnc.add",
            "dnc_list",
            own.id,
            now=now,
            after={"numbers": result, "source": checked.value, "campaign_id": campaign.id},
            reason=f"{checked.value} in campaign {campaign.name!r}",
        )
    return result


def ensure_campaign_list(
    session: Session, actor: Actor, campaign_id: int, campaign_name: str, now: datetime
) -> DncList:
    """The campaign's own list, created (``Campaign <name> do-not-call``) and attached if
    need be. Idempotent, and safe when two transactions race to create it."""
    _campaign(session, campaign_id)
    own = session.scalar(select(List).where(List.campaign_id == campaign_id))
    found = _list(own) if own is not None else None
    if found is None:
        found = _create_campaign_list(session, actor, campaign_id, campaign_name, now)
    if _attach(session, campaign_id, found.id):
        audit(
            session,
            actor,
            "dnc_list.attach",
            "campaign",
            campaign_id,
            now=now,
            after={"dnc_list_id": found.id},
            reason="the campaign's own do-not-call list",
        )
    return found


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}", field="campaign_id")
    return campaign


def _create_campaign_list(
    session: Session, actor: Actor, campaign_id: int, campaign_name: str, now: datetime
) -> DncList:
    for name in campaign_list_names(campaign_name):
        if session.scalar(select(List.id).where(List.name == name)) is not None:
            continue
        created = session.scalar(
            _insert_ignore(session, List)
            .values(
                name=name,
                description=campaign_list_description(campaign_name),
                campaign_id=campaign_id,
                created_at=now,
            )
            .returning(List.id)
        )
        if created is None:
            # Either a concurrent transaction created this campaign's list, or took the name.
            raced = session.scalar(select(List).where(List.campaign_id == campaign_id))
            if raced is not None:
                return _list(raced)
            continue
        row = session.get(List, created)
        assert row is not None
        own = _list(row)
        audit(
            session,
            actor,
            "dnc_list.create",
            "dnc_list",
            own.id,
            now=now,
            after=own.view(),
            reason="the campaign's own do-not-call list",
        )
        return own
    raise Conflict(
        f"no free name for the own do-not-call list of campaign {campaign_name!r}",
        field="name",
    )


def _insert_ignore(session: Session, table: type[Base]) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING``: a row already there (perhaps inserted by a
    concurrent transaction) is left alone instead of failing the transaction."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def _insert_numbers(
    session: Session, list_id: int, numbers: Sequence[str], source: DncSource, now: datetime
) -> set[str]:
    """Insert the numbers not yet in the list; returns those inserted."""
    inserted: set[str] = set()
    for start in range(0, len(numbers), _CHUNK):
        rows = [
            {"list_id": list_id, "e164": n, "added_at": now, "source": source.value}
            for n in numbers[start : start + _CHUNK]
        ]
        statement = _insert_ignore(session, Number).values(rows).returning(Number.e164)
        inserted.update(session.scalars(statement))
    return inserted


def _attach(session: Session, campaign_id: int, list_id: int) -> bool:
    """Attach unless attached already (also by a concurrent transaction)."""
    statement = (
        _insert_ignore(session, CampaignDncList)
        .values(campaign_id=campaign_id, dnc_list_id=list_id)
        .returning(CampaignDncList.dnc_list_id)
    )
    return session.scalar(statement) is not None
