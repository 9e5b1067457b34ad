"""Contact list use cases against in-memory stores: imports that join running campaigns,
record edits checked like import rows, and the lead API's duplicates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callhopper.clock import FrozenClock
from callhopper.core import leads, lists
from callhopper.domain.actors import SYSTEM
from callhopper.domain.campaign_ownership import OwnershipSettings
from callhopper.domain.contacts import (
    ColumnSpec,
    ListSchema,
    NormalisedRow,
    PhoneColumnSpec,
    Rejection,
    StoredRecord,
)
from callhopper.domain.errors import AlreadyExists, Conflict, InvalidInput
from callhopper.domain.lists import ContactList, ImportJob, ListRecord

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SCHEMA = ListSchema(
    columns=(
        ColumnSpec(name="account"),
        ColumnSpec(name="phone"),
        ColumnSpec(name="owner"),
        ColumnSpec(name="notes"),
    ),
    phone_columns=(PhoneColumnSpec(column="phone"),),
    lead_owner_column="owner",
    key_column="account",
    default_timezone="America/Phoenix",
    default_region="US",
)


class MemoryLists:
    def __init__(self) -> None:
        self.records: dict[int, ListRecord] = {}
        self.touched: list[datetime] = []

    def get(self, list_id: int) -> ContactList:
        return ContactList(list_id, "Leads", "", SCHEMA, OwnershipSettings(), NOW, NOW)

    def record(self, list_id: int, record_id: int) -> ListRecord:
        return self.records[record_id]

    def key_used(self, list_id: int, key: str) -> int | None:
        return next((r.id for r in self.records.values() if r.key == key), None)

    def rewrite(self, record_id: int, row: NormalisedRow, *, now: datetime) -> ListRecord:
        record = replace(
            self.records[record_id], data=row.data, key=row.key, tz=row.tz, updated_at=now
        )
        self.records[record_id] = record
        return record

    def touch(self, list_id: int, *, now: datetime) -> None:
        self.touched.append(now)


class MemorySink:
    def __init__(self) -> None:
        self.rows: list[NormalisedRow] = []
        self.rejected: list[Rejection] = []
        self.has_updates = False

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        return set()

    def write(self, rows: Sequence[NormalisedRow]) -> None:
        self.rows.extend(rows)

    def stored_records(self, keys: Sequence[str]) -> dict[str, StoredRecord]:
        return {}

    def update(self, rows: Sequence[tuple[StoredRecord, NormalisedRow]]) -> None:
        raise AssertionError("nothing to update")

    def reject(self, rejections: Sequence[Rejection]) -> None:
        self.rejected.extend(rejections)


class MemoryImports:
    def __init__(self) -> None:
        self.sinks: list[MemorySink] = []
        self.steps: list[str] = []
        #: (started_at, finished_at) of each finished import.
        self.times: list[tuple[datetime, datetime]] = []

    def start(
        self, list_id: int, actor_id: int | None, *, source: str, format: str, now: datetime
    ) -> int:
        self.source = source
        self.started_at = now
        return 5

    def sink(self, list_id: int, import_id: int, *, now: datetime) -> MemorySink:
        self.sinks.append(MemorySink())
        return self.sinks[-1]

    def index_phones(self, import_id: int) -> None:
        self.steps.append("index_phones")

    def audit_owners(self, actor: Any, import_id: int, *, now: datetime, updates: bool) -> None:
        self.steps.append("audit_owners")

    def finish(self, import_id: int, report: Any, *, now: datetime) -> ImportJob:
        self.times.append((self.started_at, now))
        return ImportJob(
            import_id,
            1,
            self.source,
            "json",
            self.started_at,
            now,
            report.rows_total,
            report.rows_accepted,
            report.rows_updated,
            report.rows_rejected,
        )

    def lead_owners(self) -> tuple[dict[str, int], dict[str, int]]:
        return {"ann": 1}, {"ann@example.com": 1}

    def rejections(self, import_id: int, *, offset: int, limit: int) -> list[Rejection]:
        return self.sinks[-1].rejected[offset : offset + limit]

    def record_ids(self, import_id: int) -> list[int]:
        return [100 + n for n in range(len(self.sinks[-1].rows))]


class MemorySnapshots:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def absorb_import(self, list_id: int, import_id: int, *, now: datetime) -> None:
        self.calls.append(("absorb_import", import_id))

    def follow_record_zone(self, record_id: int, tz: str | None) -> None:
        self.calls.append(("follow_record_zone", record_id))

    def absorb_edit(self, record_id: int, *, now: datetime) -> None:
        self.calls.append(("absorb_edit", record_id))


class MemoryLeads:
    def __init__(self, stored: dict[str, int]) -> None:
        self.stored = stored

    def stored_numbers(self, list_id: int, numbers: Sequence[str]) -> dict[str, int]:
        return {n: r for n, r in self.stored.items() if n in numbers}


class MemoryAudit:
    def __init__(self) -> None:
        self.entries: list[tuple[str, dict[str, Any]]] = []

    @property
    def times(self) -> list[datetime]:
        return [kw["now"] for _, kw in self.entries]

    def add(self, actor: Any, action: str, target_type: str, target_id: object, **kw: Any) -> None:
        self.entries.append((action, kw))


@dataclass
class MemoryTx:
    lists: MemoryLists = field(default_factory=MemoryLists)
    imports: MemoryImports = field(default_factory=MemoryImports)
    snapshots: MemorySnapshots = field(default_factory=MemorySnapshots)
    leads: MemoryLeads = field(default_factory=lambda: MemoryLeads({}))
    audit: MemoryAudit = field(default_factory=MemoryAudit)


T: Any = MemoryTx  # the in-memory transaction stands for ports.Transaction


def item(n: int, **values: str) -> dict[str, str]:
    return {"account": f"A{n}", "phone": f"602555{n:04d}", **values}


def test_an_import_stores_good_rows_and_the_started_campaigns_take_them_in() -> None:
    tx = T()
    outcome = lists.import_rows(
        tx,
        SYSTEM,
        1,
        source="api",
        items=[item(1, owner="ann"), {"account": "A2"}],
        clock=FrozenClock(NOW),
    )
    assert (outcome.job.rows_accepted, outcome.job.rows_rejected) == (1, 1)
    assert [r.owner_id for r in tx.imports.sinks[0].rows] == [1]
    assert tx.imports.steps == ["index_phones", "audit_owners"]
    assert tx.snapshots.calls == [("absorb_import", 5)]
    assert tx.lists.touched == [NOW]
    assert [a for a, _ in tx.audit.entries] == ["contact_list.import"]


class TickingClock(FrozenClock):
    """A clock that moves a minute on every reading."""

    def now(self) -> datetime:
        self.advance(timedelta(minutes=1))
        return super().now()


def test_an_import_finishes_when_its_last_row_is_in_not_when_it_started() -> None:
    tx = T()
    lists.import_rows(tx, SYSTEM, 1, source="api", items=[item(1)], clock=TickingClock(NOW))
    ((started, finished),) = tx.imports.times
    assert finished > started
    assert tx.lists.touched == [finished]
    assert tx.audit.times == [finished]


def test_an_import_with_no_good_row_reaches_no_campaign() -> None:
    tx = T()
    outcome = lists.import_rows(
        tx, SYSTEM, 1, source="api", items=[{"account": "A1"}], clock=FrozenClock(NOW)
    )
    assert outcome.job.rows_accepted == 0
    assert tx.imports.steps == [] and tx.snapshots.calls == []


def stored(tx: Any, record_id: int, **data: str) -> None:
    tx.lists.records[record_id] = ListRecord(
        id=record_id,
        list_id=1,
        key=data.get("account"),
        data=data,
        phones=["+16025550001"],
        tz="America/Phoenix",
        owner_id=None,
        owner_user_id=None,
        last_code=None,
        last_called_at=None,
        created_at=NOW,
        updated_at=NOW,
    )


def test_an_edited_record_is_checked_like_a_row_and_resolved_again() -> None:
    tx = T()
    stored(tx, 1, account="A1", phone="6025550001", notes="old")
    record = lists.update_record(tx, SYSTEM, 1, 1, {"notes": "new", "account": 7}, now=NOW)
    assert (record.data["notes"], record.key) == ("new", "7")
    assert tx.snapshots.calls == [("follow_record_zone", 1), ("absorb_edit", 1)]
    assert tx.audit.entries == [
        (
            "record.update",
            {
                "now": NOW,
                "before": {"notes": "old", "account": "A1"},
                "after": {"notes": "new", "account": "7"},
            },
        )
    ]


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"colour": "red"}, InvalidInput, "unknown column"),
        ({"owner": "ann"}, InvalidInput, "lead-owner column"),
        ({"notes": ["a"]}, InvalidInput, "string or number"),
        ({"phone": ""}, InvalidInput, "phone"),
        ({"account": "A2"}, AlreadyExists, "already used by record 2"),
    ],
)
def test_an_edit_that_breaks_the_lists_rules_is_refused(
    changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    tx = T()
    stored(tx, 1, account="A1", phone="6025550001")
    stored(tx, 2, account="A2", phone="6025550002")
    with pytest.raises(error, match=message):
        lists.update_record(tx, SYSTEM, 1, 1, changes, now=NOW)
    assert tx.snapshots.calls == [] and tx.audit.entries == []


def test_the_lead_api_reports_numbers_already_stored_or_earlier_in_the_batch() -> None:
    tx = T()
    tx.leads = MemoryLeads({"+16025550001": 40})
    batch = [item(1), item(2), item(3, phone="602-555-0002")]
    result = leads.insert_leads(
        tx,
        SYSTEM,
        1,
        batch,
        owner="ANN@example.com",
        hopper_campaign_id=None,
        priority=0,
        check_duplicates=True,
        clock=FrozenClock(NOW),
    )
    assert [(d.item, d.record_id, d.same_as_item) for d in result.duplicates] == [
        (1, 40, None),
        (3, None, 2),
    ]
    assert result.created == {2: 100}
    assert [r.owner_id for r in tx.imports.sinks[0].rows] == [1]


def test_the_lead_api_refuses_an_owner_who_is_no_active_agent() -> None:
    with pytest.raises(InvalidInput, match="not an active agent"):
        leads.insert_leads(
            T(),
            SYSTEM,
            1,
            [item(1)],
            owner="bob",
            hopper_campaign_id=None,
            priority=0,
            check_duplicates=False,
            clock=FrozenClock(NOW),
        )


def test_a_list_in_use_cannot_be_deleted() -> None:
    class Campaigns:
        def on_list(self, list_id: int) -> list[Any]:
            return [type("C", (), {"name": "Spring"})()]

    tx = T()
    tx.campaigns = Campaigns()
    with pytest.raises(Conflict, match="Spring"):
        lists.delete_list(tx, SYSTEM, 1, now=NOW)
