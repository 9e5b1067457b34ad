"""Do-not-call lists, their numbers and imports, and the lists each campaign checks:
:class:`DncService`. Every change is audited in its transaction.

A campaign's **own** list, which holds the numbers its agents were asked not to call, stays
attached to it and cannot be deleted while the campaign exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

from callhopper.core.dnc_import import DncImport
from callhopper.domain.actors import Actor
from callhopper.domain.dnc import (
    AddOutcome,
    DncCheck,
    DncImportReport,
    DncList,
    DncListInfo,
    DncNumberPage,
    DncSource,
    RemoveOutcome,
    normalise_items,
    normalise_number,
    resolve_region,
)
from callhopper.domain.errors import AlreadyExists, Conflict, NotFound
from callhopper.domain.limits import MAX_SOURCE_LENGTH
from callhopper.domain.names import check_name
from callhopper.ports.clock import Clock
from callhopper.ports.transactions import Transaction, UnitOfWork


class DncService:
    """Do-not-call lists. Numbers written without ``+country`` are read in the region a
    request names, else in ``default_region``."""

    def __init__(
        self, uow: UnitOfWork, clock: Clock, *, default_region: str, import_batch_rows: int
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.default_region = default_region
        self.import_batch_rows = import_batch_rows

    def region(self, region: str | None) -> str:
        """The region numbers are read in: the one named, else the default;
        :class:`~callhopper.domain.errors.InvalidInput` when it is unknown."""
        return resolve_region(region, self.default_region)

    # --- lists -----------------------------------------------------------------------------

    def lists(self) -> list[DncListInfo]:
        """Every list, by id, with its campaigns and number count."""
        with self.uow.read() as tx:
            return _infos(tx, tx.dnc.dnc_lists())

    def dnc_list(self, list_id: int) -> DncListInfo:
        with self.uow.read() as tx:
            return _infos(tx, [_list(tx, list_id)])[0]

    def create_list(self, actor: Actor, *, name: str, description: str = "") -> DncListInfo:
        """A new, empty list; the name must be free."""
        now = self.clock.now()
        name = check_name(name)
        with self.uow.write() as tx:
            _name_free(tx, name)
            created = tx.dnc.add_list(name=name, description=description, now=now)
            tx.audit.add(
                actor, "dnc_list.create", "dnc_list", created.id, now=now, after=created.view()
            )
            return _infos(tx, [created])[0]

    def update_list(
        self,
        actor: Actor,
        list_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> DncListInfo:
        """Rename or redescribe a list (a campaign's own list too)."""
        now = self.clock.now()
        with self.uow.write() as tx:
            before = _list(tx, list_id)
            if name is not None:
                name = check_name(name)
                _name_free(tx, name, but=before.id)
            after = tx.dnc.change_list(before.id, name=name, description=description)
            tx.audit.add(
                actor,
                "dnc_list.update",
                "dnc_list",
                after.id,
                now=now,
                before=before.view(),
                after=after.view(),
            )
            return _infos(tx, [after])[0]

    def delete_list(self, actor: Actor, list_id: int) -> None:
        """Delete a list with its numbers.

        Refused while a campaign checks it (detach it first: a campaign must not lose a
        list silently) and for a campaign's own list while the campaign exists (its
        agents' declines are the record of who asked not to be called).
        """
        now = self.clock.now()
        with self.uow.write() as tx:
            dnc_list = _list(tx, list_id)
            if dnc_list.campaign_id is not None:
                raise Conflict(
                    f"list {dnc_list.name!r} is the own do-not-call list of campaign "
                    f"{dnc_list.campaign_id}; it can be deleted once the campaign is",
                    field="dnc_list_id",
                )
            users = tx.dnc.attachments([dnc_list.id])[dnc_list.id]
            if users:
                names = tx.dnc.campaign_names(users).values()
                raise Conflict(
                    f"campaign(s) {', '.join(names)} check this list; detach it first",
                    field="dnc_list_id",
                    campaign_ids=users,
                )
            count = tx.dnc.number_counts([dnc_list.id])[dnc_list.id]
            tx.audit.add(
                actor,
                "dnc_list.delete",
                "dnc_list",
                dnc_list.id,
                now=now,
                before={**dnc_list.view(), "number_count": count},
            )
            tx.dnc.delete_list(dnc_list.id)

    # --- numbers ---------------------------------------------------------------------------

    def numbers(self, list_id: int, *, after: str | None = None, limit: int = 100) -> DncNumberPage:
        """A page of a list's numbers in E.164 order, from just after ``after``."""
        with self.uow.read() as tx:
            _list(tx, list_id)
            rows = tx.dnc.numbers(list_id, after=after, limit=limit + 1)
        page = tuple(rows[:limit])
        return DncNumberPage(page, page[-1].number if len(rows) > limit else None)

    def add_numbers(
        self, actor: Actor, list_id: int, numbers: Sequence[str], *, region: str | None = None
    ) -> AddOutcome:
        """Add numbers to a list. A number already in the list stays as it was
        (``already_present``); an item that is not a valid number, or repeats an earlier
        item, is reported in ``rejected``."""
        now = self.clock.now()
        resolved = resolve_region(region, self.default_region)
        with self.uow.write() as tx:
            dnc_list = _list(tx, list_id)
            outcome = AddOutcome()
            wanted = normalise_items(numbers, resolved, outcome.rejected)
            added = tx.dnc.insert_numbers(dnc_list.id, wanted, DncSource.API, now)
            outcome.added = [n for n in wanted if n in added]
            outcome.already_present = [n for n in wanted if n not in added]
            if outcome.added:
                tx.audit.add(
                    actor,
                    "dnc.add",
                    "dnc_list",
                    dnc_list.id,
                    now=now,
                    after={"numbers": outcome.added, "source": DncSource.API.value},
                )
            return outcome

    def remove_numbers(
        self, actor: Actor, list_id: int, numbers: Sequence[str], *, region: str | None = None
    ) -> RemoveOutcome:
        """Remove numbers from a list; numbers not in it are reported, not an error."""
        now = self.clock.now()
        resolved = resolve_region(region, self.default_region)
        with self.uow.write() as tx:
            dnc_list = _list(tx, list_id)
            outcome = RemoveOutcome()
            wanted = normalise_items(numbers, resolved, outcome.rejected)
            removed = tx.dnc.delete_numbers(dnc_list.id, wanted)
            outcome.removed = [n for n in wanted if n in removed]
            outcome.not_present = [n for n in wanted if n not in removed]
            if outcome.removed:
                tx.audit.add(
                    actor,
                    "dnc.remove",
                    "dnc_list",
                    dnc_list.id,
                    now=now,
                    before={"numbers": outcome.removed},
                )
            return outcome

    def import_numbers(
        self,
        actor: Actor,
        list_id: int,
        stream: IO[bytes],
        *,
        region: str | None = None,
        source: str = "upload.csv",
        batch_rows: int | None = None,
    ) -> DncImportReport:
        """Add the numbers of a CSV file to a list, in one transaction (see
        :mod:`callhopper.core.dnc_import` for the format and the report). The caller owns
        ``stream`` and closes it."""
        now = self.clock.now()
        resolved = resolve_region(region, self.default_region)
        rows = batch_rows if batch_rows is not None else self.import_batch_rows
        with self.uow.write() as tx:
            dnc_list = _list(tx, list_id)
            report = DncImportReport(list_id=dnc_list.id, source=source[:MAX_SOURCE_LENGTH])

            def add(numbers: Sequence[str]) -> set[str]:
                return tx.dnc.insert_numbers(dnc_list.id, numbers, DncSource.IMPORT, now)

            DncImport(add, resolved, rows, report).run(stream)
            tx.audit.add(
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

    def check(
        self, number: str, *, campaign_id: int | None = None, region: str | None = None
    ) -> DncCheck:
        """Is the number on a list the campaign checks (without a campaign: on any list),
        and on which. The external validation service is not asked."""
        e164 = normalise_number(number, resolve_region(region, self.default_region))
        with self.uow.read() as tx:
            if campaign_id is not None:
                _campaign(tx, campaign_id)
            found = tx.dnc.lists_with_number(e164, campaign_id)
        return DncCheck(e164, campaign_id, tuple(found))

    # --- campaigns -------------------------------------------------------------------------

    def campaign_lists(self, campaign_id: int) -> list[DncListInfo]:
        """The lists a campaign checks before every dial, by id."""
        with self.uow.read() as tx:
            _campaign(tx, campaign_id)
            return _infos(tx, tx.dnc.campaign_lists(campaign_id))

    def set_campaign_lists(
        self, actor: Actor, campaign_id: int, list_ids: Sequence[int]
    ) -> list[DncListInfo]:
        """Make the campaign check exactly these lists. Its own list cannot be left out
        (:class:`Conflict`): it holds the numbers its agents were asked not to call."""
        now = self.clock.now()
        with self.uow.write() as tx:
            _campaign(tx, campaign_id)
            wanted = list(dict.fromkeys(list_ids))
            for list_id in wanted:
                _list(tx, list_id)
            current = [d.id for d in tx.dnc.campaign_lists(campaign_id)]
            own = tx.dnc.own_list(campaign_id)
            if own is not None and own.id not in wanted:
                raise Conflict(
                    f"do-not-call list {own.id} is the campaign's own list and stays attached",
                    field="dnc_list_ids",
                )
            detach = [i for i in current if i not in wanted]
            attach = [i for i in wanted if i not in current]
            if detach:
                tx.dnc.detach(campaign_id, detach)
            for list_id in attach:
                tx.dnc.attach(campaign_id, list_id)
            if attach or detach:
                tx.audit.add(
                    actor,
                    "dnc_list.attach",
                    "campaign",
                    campaign_id,
                    now=now,
                    before={"dnc_list_ids": current},
                    after={"dnc_list_ids": sorted(wanted)},
                )
            return _infos(tx, tx.dnc.campaign_lists(campaign_id))

    def attach_list(self, actor: Actor, campaign_id: int, list_id: int) -> bool:
        """Make the campaign check the list too; ``False`` when it already did."""
        now = self.clock.now()
        with self.uow.write() as tx:
            _campaign(tx, campaign_id)
            _list(tx, list_id)
            if not tx.dnc.attach(campaign_id, list_id):
                return False
            tx.audit.add(
                actor,
                "dnc_list.attach",
                "campaign",
                campaign_id,
                now=now,
                after={"dnc_list_id": list_id},
            )
            return True

    def detach_list(self, actor: Actor, campaign_id: int, list_id: int) -> bool:
        """Stop checking a list; ``False`` when it was not attached. The campaign's own list
        cannot be detached (:class:`Conflict`)."""
        now = self.clock.now()
        with self.uow.write() as tx:
            _campaign(tx, campaign_id)
            dnc_list = _list(tx, list_id)
            if dnc_list.campaign_id == campaign_id:
                raise Conflict(
                    f"do-not-call list {list_id} is the campaign's own list and stays attached",
                    field="dnc_list_id",
                )
            if not tx.dnc.detach(campaign_id, [list_id]):
                return False
            tx.audit.add(
                actor,
                "dnc_list.detach",
                "campaign",
                campaign_id,
                now=now,
                before={"dnc_list_id": list_id},
            )
            return True


def _list(tx: Transaction, list_id: int) -> DncList:
    found = tx.dnc.dnc_list(list_id)
    if found is None:
        raise NotFound(f"no do-not-call list {list_id}", field="dnc_list_id")
    return found


def _campaign(tx: Transaction, campaign_id: int) -> None:
    if not tx.dnc.campaign_names([campaign_id]):
        raise NotFound(f"no campaign {campaign_id}", field="campaign_id")


def _name_free(tx: Transaction, name: str, *, but: int | None = None) -> None:
    other = tx.dnc.list_named(name)
    if other is not None and other != but:
        raise AlreadyExists(f"a do-not-call list named {name!r} already exists", field="name")


def _infos(tx: Transaction, lists: Sequence[DncList]) -> list[DncListInfo]:
    """Lists with their counts and campaigns, in two queries whatever their number."""
    ids = [d.id for d in lists]
    counts = tx.dnc.number_counts(ids)
    campaigns = tx.dnc.attachments(ids)
    return [DncListInfo(d, tuple(campaigns[d.id]), counts[d.id]) for d in lists]
