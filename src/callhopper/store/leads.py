"""The lead API (SPEC §7.1, §7.2): insert leads with owners, straight into a hopper or not,
find duplicates by phone, search by fields and owner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from callhopper.domain.actors import Actor
from callhopper.domain.contacts import Rejection
from callhopper.domain.errors import InvalidInput, NotFound
from callhopper.domain.phones import PhoneError, normalise_phone
from callhopper.store import contact_lists as lists
from callhopper.store.campaigns import get_campaign
from callhopper.store.hopper import while_campaign_exists
from callhopper.store.models import Campaign, HopperEntry, Record, RecordPhone, User
from callhopper.store.users import get_user

#: Direct hopper inserts with a higher priority go before every lead loaded normally:
#: priority ``p`` (1 to 9) takes positions from ``-p * PRIORITY_STEP`` up, in the lower half of
#: its band (a rejected push goes back on top at the lowest position less one, coming down
#: from the top of a band); priority 0 and loads take positive positions.
PRIORITY_STEP = 1_000_000_000


@dataclass(frozen=True)
class Duplicate:
    item: int
    number: str
    record_id: int | None = None
    #: Another item of the same batch, when the duplicate is inside the batch.
    same_as_item: int | None = None


@dataclass
class LeadInsert:
    import_id: int
    #: Item number (1-based) → the new record's id.
    created: dict[int, int] = field(default_factory=dict)
    duplicates: list[Duplicate] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    in_hopper: int = 0


def insert_leads(
    session: Session,
    actor: Actor,
    list_id: int,
    items: Sequence[Mapping[str, Any]],
    *,
    owner: str | None,
    hopper_campaign_id: int | None,
    priority: int,
    check_duplicates: bool,
    now: datetime,
) -> LeadInsert:
    """Insert leads into a list in one transaction.

    ``owner`` (a user id or email) owns every lead without its own ``user_id``. With
    ``check_duplicates`` a lead sharing a phone number with a lead of the list (or an
    earlier lead of the batch) is reported, not inserted. With ``hopper_campaign_id`` the
    new leads go straight into that lead-ownership campaign's hopper (``hopper=1``).
    """
    contact_list = lists.get_list(session, list_id)
    schema = lists.schema_of(contact_list)
    default_owner = _owner_id(session, owner) if owner is not None else None
    campaign = None
    if hopper_campaign_id is not None:
        campaign = get_campaign(session, hopper_campaign_id)
        if not campaign.enforce_lead_ownership or campaign.list_id != list_id:
            raise InvalidInput(
                "hopper=1 needs a running lead-ownership campaign on this list",
                field="campaign_id",
            )
    duplicates: list[Duplicate] = []
    keep = list(range(1, len(items) + 1))
    if check_duplicates:
        duplicates = _duplicates(
            session, list_id, schema.phone_columns, schema.default_region, items
        )
        dup_items = {d.item for d in duplicates}
        keep = [n for n in keep if n not in dup_items]
    kept = [items[n - 1] for n in keep]
    outcome = lists.import_rows(
        session,
        actor,
        list_id,
        source="lead api",
        items=kept,
        default_owner_id=default_owner,
        now=now,
    )
    every_rejection = lists.import_rejections(
        session, outcome.job.id, offset=0, limit=max(1, outcome.report.rows_rejected)
    )
    rejected = {r.line for r in every_rejection}
    # The records of this import in id order are the accepted items in order.
    record_ids = list(
        session.scalars(
            select(Record.id).where(Record.import_id == outcome.job.id).order_by(Record.id)
        )
    )
    accepted = [n for position, n in enumerate(keep, start=1) if position not in rejected]
    result = LeadInsert(
        import_id=outcome.job.id,
        created=dict(zip(accepted, record_ids, strict=True)),
        duplicates=duplicates,
        rejections=[Rejection(keep[r.line - 1], r.reason, r.column) for r in every_rejection],
    )
    if campaign is not None and record_ids:
        result.in_hopper = _into_hopper(session, campaign.id, record_ids, priority, now)
    return result


def _owner_id(session: Session, owner: str) -> int:
    resolved = lists.lead_owner_resolver(session)(owner)
    if resolved is None:
        raise InvalidInput(f"owner {owner!r} is not an active agent", field="owner")
    return int(resolved)


def _duplicates(
    session: Session,
    list_id: int,
    phone_columns: Sequence[Any],
    region: str,
    items: Sequence[Mapping[str, Any]],
) -> list[Duplicate]:
    numbers: dict[int, list[str]] = {}
    for n, item in enumerate(items, start=1):
        found = []
        for spec in phone_columns:
            raw = item.get(spec.column)
            if raw in (None, ""):
                continue
            try:
                found.append(normalise_phone(str(raw), region))
            except PhoneError:
                continue  # the import reports it
        numbers[n] = found
    wanted = sorted({x for found in numbers.values() for x in found})
    stored: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        for number, record_id in session.execute(
            select(RecordPhone.e164, func.min(RecordPhone.record_id))
            .where(
                RecordPhone.list_id == list_id, RecordPhone.e164.in_(wanted[start : start + 500])
            )
            .group_by(RecordPhone.e164)
        ):
            stored[number] = record_id
    seen: dict[str, int] = {}
    duplicates = []
    for n, found in numbers.items():
        for number in found:
            if number in stored:
                duplicates.append(Duplicate(n, number, record_id=stored[number]))
                break
            if number in seen:
                duplicates.append(Duplicate(n, number, same_as_item=seen[number]))
                break
        else:
            for number in found:
                seen.setdefault(number, n)
    return duplicates


def _into_hopper(
    session: Session, campaign_id: int, record_ids: Sequence[int], priority: int, now: datetime
) -> int:
    if session.scalar(while_campaign_exists(select(Campaign.id), campaign_id)) is None:
        raise NotFound(f"no campaign {campaign_id}", field="campaign_id")  # deleted meanwhile
    # After the last position of the priority's band, so that positions stay unique in the
    # campaign (the hopper view pages by position).
    floor = -priority * PRIORITY_STEP
    last = select(func.max(HopperEntry.position)).where(
        HopperEntry.campaign_id == campaign_id, HopperEntry.position >= floor
    )
    if priority:
        last = last.where(HopperEntry.position < floor + PRIORITY_STEP // 2)
    found = session.scalar(last)
    base = int(found) if found is not None else floor
    owners = dict(
        session.execute(select(Record.id, Record.owner_id).where(Record.id.in_(record_ids))).all()
    )
    rows = [
        {
            "campaign_id": campaign_id,
            "record_id": record_id,
            "owner_id": owners.get(record_id),
            "group_key": None,
            "position": base + n,
            "direct": True,
            "loaded_at": now,
        }
        for n, record_id in enumerate(record_ids, start=1)
    ]
    session.execute(insert(HopperEntry), rows)
    return len(rows)


def search(
    session: Session,
    *,
    list_id: int | None,
    owner: str | None,
    fields: Mapping[str, str],
    after_id: int,
    limit: int,
) -> Sequence[Record]:
    """Leads by exact field values and owner (``none`` for the general pool)."""
    query = select(Record).where(Record.id > after_id).order_by(Record.id).limit(limit)
    if list_id is not None:
        query = query.where(Record.list_id == list_id)
    if owner == "none":
        query = query.where(Record.owner_id.is_(None))
    elif owner is not None:
        query = query.where(Record.owner_id == get_user(session, owner).id)
    for name, value in fields.items():
        query = query.where(Record.data[name].as_string() == value)
    return session.scalars(query).all()


def owner_user_ids(session: Session, records: Sequence[Record]) -> dict[int, str]:
    ids = {r.owner_id for r in records if r.owner_id is not None}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.user_id).where(User.id.in_(ids))).all())
