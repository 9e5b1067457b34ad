"""The lead API's use cases: insert leads with owners (straight into a hopper or not),
read, update and search them. Owners cannot change here (see :mod:`callhopper.core.owners`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from callhopper.core.lists import import_rows, lead_owner_resolver, update_record
from callhopper.domain.actors import Actor
from callhopper.domain.contacts import PhoneColumnSpec, Rejection
from callhopper.domain.errors import InvalidInput, NotFound
from callhopper.domain.lead_owners import NO_OWNER
from callhopper.domain.lists import ListRecord
from callhopper.domain.phones import PhoneError, normalise_phone
from callhopper.ports import Clock, Transaction, UnitOfWork


@dataclass(frozen=True)
class Duplicate:
    """A lead not inserted because one of its numbers is already in the list (``record_id``)
    or in an earlier lead of the batch (``same_as_item``)."""

    item: int
    number: str
    record_id: int | None = None
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
    tx: Transaction,
    actor: Actor,
    list_id: int,
    items: Sequence[Mapping[str, Any]],
    *,
    owner: str | None,
    hopper_campaign_id: int | None,
    priority: int,
    check_duplicates: bool,
    clock: Clock,
) -> LeadInsert:
    """Insert leads into a list in one transaction.

    ``owner`` (a user id or email) owns every lead without its own ``user_id``. With
    ``check_duplicates`` a lead sharing a phone number with a lead of the list (or an
    earlier lead of the batch) is reported, not inserted. With ``hopper_campaign_id`` the
    new leads go straight into that lead-ownership campaign's hopper (``hopper=1``).
    """
    schema = tx.lists.get(list_id).schema
    default_owner = None
    if owner is not None:
        default_owner = lead_owner_resolver(tx)(owner)
        if default_owner is None:
            raise InvalidInput(f"owner {owner!r} is not an active agent", field="owner")
    if hopper_campaign_id is not None:
        campaign = tx.campaigns.get(hopper_campaign_id)
        if not campaign.enforce_lead_ownership or campaign.list_id != list_id:
            raise InvalidInput(
                "hopper=1 needs a running lead-ownership campaign on this list",
                field="campaign_id",
            )
    duplicates: list[Duplicate] = []
    keep = list(range(1, len(items) + 1))
    if check_duplicates:
        duplicates = _duplicates(tx, list_id, schema.phone_columns, schema.default_region, items)
        dup_items = {d.item for d in duplicates}
        keep = [n for n in keep if n not in dup_items]
    outcome = import_rows(
        tx,
        actor,
        list_id,
        source="lead api",
        items=[items[n - 1] for n in keep],
        default_owner_id=default_owner,
        clock=clock,
    )
    import_id = outcome.job.import_id
    every_rejection = tx.imports.rejections(
        import_id, offset=0, limit=max(1, outcome.report.rows_rejected)
    )
    rejected = {r.line for r in every_rejection}
    # The records of this import in id order are the accepted items in order.
    record_ids = tx.imports.record_ids(import_id)
    accepted = [n for position, n in enumerate(keep, start=1) if position not in rejected]
    result = LeadInsert(
        import_id=import_id,
        created=dict(zip(accepted, record_ids, strict=True)),
        duplicates=duplicates,
        rejections=[Rejection(keep[r.line - 1], r.reason, r.column) for r in every_rejection],
    )
    if hopper_campaign_id is not None and record_ids:
        result.in_hopper = tx.hopper.insert(hopper_campaign_id, record_ids, priority, clock.now())
    return result


def _duplicates(
    tx: Transaction,
    list_id: int,
    phone_columns: Sequence[PhoneColumnSpec],
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
    stored = tx.leads.stored_numbers(
        list_id, sorted({x for found in numbers.values() for x in found})
    )
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


class LeadService:
    """Lead API use cases, each in a transaction of its own."""

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        *,
        on_leads_inserted: Callable[[], None] = lambda: None,
    ) -> None:
        self.uow = uow
        self.clock = clock
        #: Called after leads were inserted (new general leads may be routed at once).
        self.on_leads_inserted = on_leads_inserted

    def insert(
        self,
        actor: Actor,
        list_id: int,
        items: Sequence[Mapping[str, Any]],
        *,
        owner: str | None,
        hopper_campaign_id: int | None,
        priority: int,
        check_duplicates: bool,
    ) -> LeadInsert:
        with self.uow.write() as tx:
            result = insert_leads(
                tx,
                actor,
                list_id,
                items,
                owner=owner,
                hopper_campaign_id=hopper_campaign_id,
                priority=priority,
                check_duplicates=check_duplicates,
                clock=self.clock,
            )
        self.on_leads_inserted()
        return result

    def get(self, record_id: int) -> ListRecord:
        with self.uow.read() as tx:
            return tx.lists.lead(record_id)

    def update(self, actor: Actor, record_id: int, changes: Mapping[str, Any]) -> ListRecord:
        """Change a lead's fields (checked like an import row). Its owner is not a field."""
        with self.uow.write() as tx:
            lead = tx.lists.lead(record_id)
            return update_record(tx, actor, lead.list_id, record_id, changes, now=self.clock.now())

    def search(
        self,
        *,
        list_id: int | None,
        owner: str | None,
        fields: dict[str, str],
        after_id: int,
        limit: int,
    ) -> list[ListRecord]:
        """Leads by exact field values and owner (a user id, or ``none`` for the general
        pool)."""
        with self.uow.read() as tx:
            owner_id = None
            if owner is not None and owner != NO_OWNER:
                owner_id = tx.owners.user_key(owner)
                if owner_id is None:
                    raise NotFound(f"no user with user_id {owner!r}", field="user_id")
            return tx.lists.search(
                list_id=list_id,
                owner_id=owner_id,
                unowned=owner == NO_OWNER,
                fields=fields,
                after_id=after_id,
                limit=limit,
            )
