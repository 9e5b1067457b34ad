"""Contact list use cases: lists, imports and appends (through :mod:`callhopper.core.importer`
and the import port), and record edits. Appended and edited records join the campaigns
already running on the list.

Each use case is a function over one :class:`~callhopper.ports.Transaction`;
:class:`ListService` runs them in transactions of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import IO, Any

from callhopper.core.importer import Importer, ImportReport
from callhopper.domain.actors import Actor
from callhopper.domain.contacts import ListSchema, Rejection, RowNormaliser, check_schema_change
from callhopper.domain.errors import AlreadyExists, Conflict, InvalidInput
from callhopper.domain.limits import MAX_SOURCE_LENGTH
from callhopper.domain.lists import ContactList, ImportJob, ListRecord
from callhopper.domain.ownership_reports import CampaignOwner
from callhopper.domain.rights import Right
from callhopper.ports import Clock, Transaction, UnitOfWork


@dataclass(frozen=True)
class ImportOutcome:
    """An import's job (with its counts) and its report (with the first rejections)."""

    job: ImportJob
    report: ImportReport


@dataclass(frozen=True)
class ListSummary:
    """A list with how many records it has."""

    contact_list: ContactList
    record_count: int


@dataclass(frozen=True)
class RecordView:
    """A record, with the campaign that owns it when the reader may see that."""

    record: ListRecord
    #: The extension written with each of the record's phones, or None.
    phone_extensions: list[str | None]
    campaign_owner: CampaignOwner | None = None


# --- lists --------------------------------------------------------------------------------------


def _checked_name(tx: Transaction, name: str, list_id: int | None = None) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput("the name is empty", field="name")
    other = tx.lists.named(name)
    if other is not None and other != list_id:
        raise AlreadyExists(f"a contact list named {name!r} already exists", field="name")
    return name


def create_list(
    tx: Transaction,
    actor: Actor,
    *,
    name: str,
    description: str,
    schema: ListSchema,
    now: datetime,
) -> ContactList:
    """A new empty list (audited)."""
    name = _checked_name(tx, name)
    contact_list = tx.lists.add(name=name, description=description, schema=schema, now=now)
    tx.audit.add(
        actor,
        "contact_list.create",
        "contact_list",
        contact_list.id,
        now=now,
        after=contact_list.view(),
    )
    return contact_list


def update_list(
    tx: Transaction,
    actor: Actor,
    list_id: int,
    *,
    name: str | None,
    description: str | None,
    schema: ListSchema | None,
    now: datetime,
) -> ContactList:
    """Rename or redescribe a list, or change its schema (limited once it has records, and
    the agent-owned column is fixed while a campaign delivers by it)."""
    contact_list = tx.lists.get(list_id)
    after = replace(contact_list, updated_at=now)
    if name is not None:
        after = replace(after, name=_checked_name(tx, name, list_id))
    if description is not None:
        after = replace(after, description=description)
    if schema is not None:
        old = contact_list.schema
        check_schema_change(old, schema, has_records=tx.lists.has_records(list_id))
        if old.agent_owned_column != schema.agent_owned_column:
            users = [c.name for c in tx.campaigns.on_list(list_id)]
            if users:
                raise Conflict(
                    f"campaign(s) {', '.join(users)} deliver by the agent-owned column "
                    f"{old.agent_owned_column!r}; it cannot change",
                    field="agent_owned_column",
                )
        after = replace(after, schema=schema)
    tx.lists.save(after)
    tx.audit.add(
        actor,
        "contact_list.update",
        "contact_list",
        list_id,
        now=now,
        before=contact_list.view(),
        after=after.view(),
    )
    return after


def delete_list(tx: Transaction, actor: Actor, list_id: int, *, now: datetime) -> None:
    """Delete a list no campaign uses, with its records and imports (audited)."""
    contact_list = tx.lists.get(list_id)
    users = [c.name for c in tx.campaigns.on_list(list_id)]
    if users:
        raise Conflict(
            f"campaign(s) {', '.join(users)} use this list; delete them first", field="list_id"
        )
    count = tx.lists.record_count(list_id)
    tx.audit.add(
        actor,
        "contact_list.delete",
        "contact_list",
        list_id,
        now=now,
        before={**contact_list.view(), "records": count},
    )
    tx.lists.delete(list_id)


# --- records ------------------------------------------------------------------------------------


def update_record(
    tx: Transaction,
    actor: Actor,
    list_id: int,
    record_id: int,
    changes: Mapping[str, Any],
    *,
    now: datetime,
) -> ListRecord:
    """Change one record's values, checked by the list's row rules; phones, time zone and key
    follow. Audited with the values before and after. A record a started campaign could not
    deliver is resolved again at once."""
    schema = tx.lists.get(list_id).schema
    record = tx.lists.record(list_id, record_id)
    unknown = sorted(set(changes) - set(schema.column_names))
    if unknown:
        raise InvalidInput(f"unknown column(s): {', '.join(unknown)}", field="data")
    owner_column = schema.lead_owner_column
    if owner_column is not None and owner_column in changes:
        wanted = changes[owner_column]
        if ("" if wanted is None else str(wanted)) != record.data.get(owner_column, ""):
            raise InvalidInput(
                f"column {owner_column!r} is the lead-owner column: change the owner with "
                f"PUT /api/v1/contact-lists/{list_id}/records/{record_id}/owner (or a mass "
                "edit), not the record's data",
                field=owner_column,
            )
    merged = dict(record.data)
    for name, value in changes.items():
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, str | int | float)
        ):
            raise InvalidInput(f"column {name!r}: value must be a string or number", field=name)
        merged[name] = "" if value is None else str(value)
    outcome = RowNormaliser(schema).normalise(0, merged)
    if isinstance(outcome, Rejection):
        raise InvalidInput(outcome.reason, field=outcome.column or "data")
    if outcome.key != record.key and outcome.key is not None:
        clash = tx.lists.key_used(list_id, outcome.key)
        if clash is not None:
            raise AlreadyExists(
                f"key {outcome.key!r} is already used by record {clash}", field=schema.key_column
            )
    updated = tx.lists.rewrite(record_id, outcome, now=now)
    tx.snapshots.follow_record_zone(record_id, outcome.tz)
    tx.snapshots.absorb_edit(record_id, now=now)
    tx.audit.add(
        actor,
        "record.update",
        "record",
        record_id,
        now=now,
        before={k: record.data.get(k) for k in changes},
        after={k: updated.data.get(k) for k in changes},
    )
    return updated


# --- imports ------------------------------------------------------------------------------------


def lead_owner_resolver(tx: Transaction) -> Callable[[str], int | None]:
    """Maps a lead-owner value (user id, or email in any case) to an active agent's key."""
    by_id, by_email = tx.imports.lead_owners()

    def resolve(value: str) -> int | None:
        value = value.strip()
        return by_id.get(value) or by_email.get(value.lower())

    return resolve


def import_rows(
    tx: Transaction,
    actor: Actor,
    list_id: int,
    *,
    source: str,
    csv_stream: IO[bytes] | None = None,
    items: Sequence[Mapping[str, Any]] | None = None,
    mapping: Mapping[str, str | None] | None = None,
    workers: int = 0,
    batch_rows: int = 5000,
    on_duplicate: str = "reject",
    default_owner_id: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    clock: Clock,
) -> ImportOutcome:
    """Append rows to a list in the caller's transaction: all accepted rows or none.

    Exactly one of ``csv_stream`` and ``items`` is given. With ``on_duplicate="update"`` a
    row whose key is already in the list updates that record instead of being refused: the
    row's columns overwrite, the columns it lacks keep their values, and phones, time zone
    and key are derived again from the merged values. Bad rows are reported, not stored; a
    file-level problem (no header, unknown columns, invalid UTF-8) raises
    :class:`InvalidInput` and the caller rolls back. Appended records join the campaigns
    already started on the list.

    The import starts when the clock is first read and finishes when it is read again, after
    the last row, still in the transaction: the job's ``finished_at``, the list's update
    time and the audit entry carry that second reading.
    """
    now = clock.now()
    contact_list = tx.lists.get(list_id)
    schema = contact_list.schema
    import_id = tx.imports.start(
        list_id,
        actor.id,
        source=source[:500],
        format="csv" if csv_stream is not None else "json",
        now=now,
    )
    sink = tx.imports.sink(list_id, import_id, now=now)
    importer = Importer(
        schema,
        sink,
        workers=workers,
        batch_rows=batch_rows,
        on_duplicate=on_duplicate,
        owners=lead_owner_resolver(tx) if schema.lead_owner_column or items else None,
        default_owner=default_owner_id,
        on_progress=on_progress,
    )
    if csv_stream is not None:
        report = importer.run_csv(csv_stream, mapping)
    else:
        assert items is not None
        report = importer.run_items(items)
    if report.rows_accepted:
        tx.imports.index_phones(import_id)
        tx.imports.audit_owners(actor, import_id, now=now, updates=sink.has_updates)
        if sink.has_updates:
            tx.snapshots.follow_list_zones(list_id)
            tx.imports.unstage_reowned()
            tx.imports.drop_updates()
        tx.snapshots.absorb_import(list_id, import_id, now=now)
    finished = clock.now()
    job = tx.imports.finish(import_id, report, now=finished)
    tx.lists.touch(list_id, now=finished)
    tx.audit.add(
        actor,
        "contact_list.import",
        "contact_list",
        list_id,
        now=finished,
        after={
            "import_id": job.import_id,
            "source": job.source,
            "format": job.format,
            "rows_total": job.rows_total,
            "rows_accepted": job.rows_accepted,
            "rows_updated": job.rows_updated,
            "rows_rejected": job.rows_rejected,
        },
    )
    return ImportOutcome(job, report)


# --- the service --------------------------------------------------------------------------------


class ListService:
    """Contact list use cases, each in a transaction of its own."""

    def __init__(
        self, uow: UnitOfWork, clock: Clock, *, import_workers: int = 0, batch_rows: int = 5000
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.import_workers = import_workers
        self.batch_rows = batch_rows

    def all(self) -> list[ListSummary]:
        with self.uow.read() as tx:
            return [ListSummary(c, tx.lists.record_count(c.id)) for c in tx.lists.all()]

    def get(self, list_id: int) -> ListSummary:
        with self.uow.read() as tx:
            return ListSummary(tx.lists.get(list_id), tx.lists.record_count(list_id))

    def by_name(self, name: str) -> ListSummary:
        with self.uow.read() as tx:
            contact_list = tx.lists.by_name(name)
            return ListSummary(contact_list, tx.lists.record_count(contact_list.id))

    def create(
        self, actor: Actor, *, name: str, description: str, schema: ListSchema
    ) -> ListSummary:
        with self.uow.write() as tx:
            contact_list = create_list(
                tx, actor, name=name, description=description, schema=schema, now=self.clock.now()
            )
            return ListSummary(contact_list, tx.lists.record_count(contact_list.id))

    def update(
        self,
        actor: Actor,
        list_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
        schema: ListSchema | None = None,
    ) -> ListSummary:
        with self.uow.write() as tx:
            contact_list = update_list(
                tx,
                actor,
                list_id,
                name=name,
                description=description,
                schema=schema,
                now=self.clock.now(),
            )
            return ListSummary(contact_list, tx.lists.record_count(list_id))

    def delete(self, actor: Actor, list_id: int) -> None:
        with self.uow.write() as tx:
            delete_list(tx, actor, list_id, now=self.clock.now())

    def import_rows(
        self,
        actor: Actor,
        list_id: int,
        *,
        source: str,
        csv_stream: IO[bytes] | None = None,
        items: Sequence[Mapping[str, Any]] | None = None,
        mapping: Mapping[str, str | None] | None = None,
        on_duplicate: str = "reject",
        on_progress: Callable[[int], None] | None = None,
    ) -> ImportOutcome:
        """Append a CSV stream or JSON items to the list, in one transaction."""
        with self.uow.write() as tx:
            return import_rows(
                tx,
                actor,
                list_id,
                source=source[:MAX_SOURCE_LENGTH],
                csv_stream=csv_stream,
                items=items,
                mapping=mapping,
                workers=self.import_workers,
                batch_rows=self.batch_rows,
                on_duplicate=on_duplicate,
                on_progress=on_progress,
                clock=self.clock,
            )

    def imports(self, list_id: int) -> list[ImportJob]:
        """The list's imports, newest first."""
        with self.uow.read() as tx:
            tx.lists.get(list_id)
            return tx.imports.all(list_id)

    def import_job(self, list_id: int, import_id: int) -> ImportJob:
        with self.uow.read() as tx:
            return tx.imports.get(list_id, import_id)

    def rejections(
        self, list_id: int, import_id: int, *, offset: int, limit: int
    ) -> list[Rejection]:
        """Every rejected row of an import, by line."""
        with self.uow.read() as tx:
            tx.imports.get(list_id, import_id)
            return tx.imports.rejections(import_id, offset=offset, limit=limit)

    def records(
        self, reader: Actor, list_id: int, *, after_id: int, limit: int
    ) -> list[RecordView]:
        with self.uow.read() as tx:
            schema = tx.lists.get(list_id).schema
            page = tx.lists.page(list_id, after_id=after_id, limit=limit)
            return [self._view(tx, reader, r, schema) for r in page]

    def record(self, reader: Actor, list_id: int, record_id: int) -> RecordView:
        with self.uow.read() as tx:
            schema = tx.lists.get(list_id).schema
            return self._view(tx, reader, tx.lists.record(list_id, record_id), schema)

    def update_record(
        self, actor: Actor, list_id: int, record_id: int, changes: Mapping[str, Any]
    ) -> RecordView:
        """Change values of one record (any column, checked like an import row; audited)."""
        with self.uow.write() as tx:
            record = update_record(tx, actor, list_id, record_id, changes, now=self.clock.now())
            return self._view(tx, actor, record, tx.lists.get(list_id).schema)

    def _view(
        self, tx: Transaction, reader: Actor, record: ListRecord, schema: ListSchema
    ) -> RecordView:
        """The record with its phones' extensions; its owning campaign only for readers with
        ownership control."""
        extensions = schema.phone_extensions(record.data)
        if not reader.can(Right.CONTACT_LIST_OWNERSHIP_CONTROL):
            return RecordView(record, extensions)
        return RecordView(record, extensions, tx.ownership.owner_of(record.id, self.clock.now()))
