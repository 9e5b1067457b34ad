"""Streaming import of contact rows (CSV files and JSON batches) into a list.

The file is read as a stream and handled in batches, so a million-row file
never sits in memory whole. Each row is checked by the list's
:class:`~callhopper.domain.contacts.RowNormaliser`; good rows go to the
:class:`~callhopper.ports.RecordSink`, bad rows are reported with their line
number and reason. With ``workers > 1`` the normalisation (phone parsing is
the costly part) runs in a process pool while this process reads and writes.
"""

from __future__ import annotations

import io
import json
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import IO, Any

from callhopper.domain.contacts import (
    ListSchema,
    NormalisedRow,
    Rejection,
    RowNormaliser,
    StoredRecord,
    ZoneFallback,
)
from callhopper.domain.csvtext import numbered_rows, open_text, read_header
from callhopper.domain.errors import InvalidInput
from callhopper.ports import RecordSink

#: The key of a JSON item that names its lead owner (not a column).
OWNER_KEY = "user_id"
#: How many rejections a report carries in full; all of them are stored.
REPORT_REJECTIONS_MAX = 1000

RawRow = tuple[int, dict[str, str]]
#: A row as read: its values, or already refused by the reader (e.g. wrong column count).
ReadRow = RawRow | Rejection
Outcome = NormalisedRow | Rejection


@dataclass
class ImportReport:
    """What an import did. ``rejections`` holds the first :data:`REPORT_REJECTIONS_MAX`."""

    rows_total: int = 0
    #: Rows stored: new records plus, with ``on_duplicate="update"``, records updated.
    rows_accepted: int = 0
    rows_updated: int = 0
    rows_rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    #: Rows stored with a fallback time zone (their time-zone column named none); the
    #: first :data:`REPORT_REJECTIONS_MAX` are listed.
    rows_warned: int = 0
    warnings: list[ZoneFallback] = field(default_factory=list)

    @property
    def rejections_truncated(self) -> bool:
        return self.rows_rejected > len(self.rejections)

    @property
    def warnings_truncated(self) -> bool:
        return self.rows_warned > len(self.warnings)


@dataclass(frozen=True, slots=True)
class _Update:
    """A row whose key is already in the list: the record it updates, and the lead-owner
    value the row itself carries (the merged values hold the record's old one)."""

    record: StoredRecord
    owner_value: str | None


@dataclass(frozen=True)
class CsvHeader:
    """A CSV header resolved against a list: which field feeds which column."""

    delimiter: str
    fields: list[str]
    #: Position in the row → list column name (ignored fields are absent).
    positions: dict[int, str]


class Importer:
    """Runs one import into one list through a :class:`RecordSink`."""

    def __init__(
        self,
        schema: ListSchema,
        sink: RecordSink,
        *,
        workers: int = 0,
        batch_rows: int = 5000,
        on_duplicate: str = "reject",
        owners: Callable[[str], int | None] | None = None,
        default_owner: int | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        if on_duplicate not in ("reject", "update"):
            raise InvalidInput(
                f"on_duplicate is 'reject' or 'update', not {on_duplicate!r}", field="on_duplicate"
            )
        if on_duplicate == "update" and schema.key_column is None:
            raise InvalidInput(
                "on_duplicate='update' needs a list with a key column", field="on_duplicate"
            )
        self.update_duplicates = on_duplicate == "update"
        self._item_owners: dict[int, str] = {}
        #: Resolves a lead-owner value (user id or email) to a user, ``None`` if nobody.
        self.owners = owners
        self.default_owner = default_owner
        self.schema = schema
        self.sink = sink
        self.workers = workers
        self.batch_rows = batch_rows
        self.on_progress = on_progress
        self.report = ImportReport()
        self._seen_keys: dict[str, int] = {}
        #: Line → the stored record it updates, for the rows read but not yet stored.
        self._updates: dict[int, _Update] = {}
        self._normaliser = RowNormaliser(schema)

    # --- entry points ---------------------------------------------------------------------

    def run_csv(
        self, stream: IO[bytes], mapping: Mapping[str, str | None] | None = None
    ) -> ImportReport:
        """Import a CSV byte stream (UTF-8 with or without BOM; ``,`` ``;`` or tab)."""
        text, header = open_csv(stream, self.schema, mapping, updating=self.update_duplicates)
        try:
            self._run(_csv_rows(text, header, self.report), stream)
        finally:
            text.detach()  # the caller owns the byte stream and closes it
        return self.report

    def run_items(self, items: Sequence[Mapping[str, Any]]) -> ImportReport:
        """Import JSON objects; item ``n`` (1-based) is reported as line ``n``.

        An item's ``user_id`` (when the import resolves owners) names its lead owner,
        as the lead API does; it is not a column.
        """
        known = set(self.schema.column_names)
        rows: list[ReadRow] = []
        for number, raw in enumerate(items, start=1):
            self.report.rows_total += 1
            item = dict(raw)
            if self.owners is not None and OWNER_KEY in item:
                owner = item.pop(OWNER_KEY)
                if owner not in (None, ""):
                    self._item_owners[number] = str(owner)
            unknown = sorted(set(item) - known)
            if unknown:
                # repr: a name may hold characters the database cannot store (NUL).
                rows.append(
                    Rejection(
                        number,
                        f"unknown column(s): {', '.join(map(repr, unknown))}",
                        repr(unknown[0])[1:-1],
                    )
                )
                continue
            values: dict[str, str] = {}
            for name, value in item.items():
                if value is None:
                    values[name] = ""  # as an empty CSV field: clears the value on update
                    continue
                if isinstance(value, bool) or not isinstance(value, str | int | float):
                    rows.append(
                        Rejection(
                            number, f"column {name!r}: value must be a string or number", name
                        )
                    )
                    break
                values[name] = str(value)
            else:
                rows.append((number, values))
        self._run(iter(rows), None)
        return self.report

    # --- the pipeline ---------------------------------------------------------------------

    def _run(self, rows: Iterator[ReadRow], stream: IO[bytes] | None) -> None:
        batches = _batched(rows, self.batch_rows)
        if self.update_duplicates:
            batches = map(self._merge_stored, batches)
        first = next(batches, None)
        if first is None:
            return
        self._progress(stream)
        self._store(self._normaliser_outcomes(first))
        if self.workers <= 1:
            for batch in batches:
                self._store(self._normaliser_outcomes(batch))
                self._progress(stream)
            return
        # More than one batch: normalise in worker processes, keep order, bound memory.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=_worker_init,
            initargs=(self.schema.model_dump_json(),),
        ) as pool:
            pending: deque[Future[list[Outcome]]] = deque()
            for batch in batches:
                pending.append(pool.submit(_worker_normalise, batch))
                if len(pending) >= 2 * self.workers:
                    self._store(pending.popleft().result())
                    self._progress(stream)
            while pending:
                self._store(pending.popleft().result())
                self._progress(stream)

    def _merge_stored(self, batch: list[ReadRow]) -> list[ReadRow]:
        """Rows whose key is already in the list carry the record's values under their own:
        columns the row has overwrite, the others keep what the record holds, and the
        normaliser then checks and derives phones, zone and key from the merged values."""
        keys: dict[int, str] = {}
        for row in batch:
            if not isinstance(row, Rejection):
                key = self._normaliser.key_of(row[1])
                if key is not None:
                    keys[row[0]] = key
        if not keys:
            return batch
        stored = self.sink.stored_records(sorted(set(keys.values())))
        if not stored:
            return batch
        owner_column = self._owner_column
        merged: list[ReadRow] = []
        for row in batch:
            record = None
            if not isinstance(row, Rejection) and row[0] in keys:
                record = stored.get(keys[row[0]])
            if record is None or isinstance(row, Rejection):
                merged.append(row)
                continue
            line, values = row
            owner_value = values.get(owner_column) if owner_column is not None else None
            self._updates[line] = _Update(record, owner_value)
            merged.append((line, {**record.data, **values}))
        return merged

    def _normaliser_outcomes(self, batch: list[ReadRow]) -> list[Outcome]:
        return _normalise_batch(self._normaliser, batch)

    def _store(self, outcomes: list[Outcome]) -> None:
        good: list[NormalisedRow] = []
        bad: list[Rejection] = []
        updates: dict[int, _Update] = {}
        for outcome in outcomes:
            (good if isinstance(outcome, NormalisedRow) else bad).append(outcome)  # type: ignore[arg-type]
            update = self._updates.pop(outcome.line, None)
            if update is not None:
                updates[outcome.line] = update
        if good and (
            self.default_owner is not None or self._owner_column is not None or self._item_owners
        ):
            good = self._set_owners(good, bad, updates)
        if self.schema.key_column is not None and good:
            good = self._sort_out_keys(good, bad, updates)
        if good:
            self.sink.write(good)
            self.report.rows_accepted += len(good)
        if bad:
            bad.sort(key=lambda r: r.line)
            self._reject(bad)
        self._warn(outcomes, {r.line for r in bad})

    @property
    def _owner_column(self) -> str | None:
        return self.schema.lead_owner_column if self.owners is not None else None

    def _set_owners(
        self, rows: list[NormalisedRow], bad: list[Rejection], updates: Mapping[int, _Update]
    ) -> list[NormalisedRow]:
        """The lead owner: the owner column's value, else the import's default owner.
        A row that updates a record counts only its own owner value, not the record's."""
        kept = []
        column = self._owner_column
        for row in rows:
            value = self._item_owners.pop(row.line, None)
            if value is None and column is not None:
                update = updates.get(row.line)
                value = update.owner_value if update is not None else row.data.get(column)
            owner = self.default_owner
            if value and self.owners is not None:
                owner = self.owners(value)
                if owner is None:
                    bad.append(
                        Rejection(
                            row.line,
                            f"lead owner {value!r} is not an active agent (user id or email)",
                            column,
                        )
                    )
                    continue
            kept.append(replace(row, owner_id=owner) if owner is not None else row)
        return kept

    def _sort_out_keys(
        self, rows: list[NormalisedRow], bad: list[Rejection], updates: Mapping[int, _Update]
    ) -> list[NormalisedRow]:
        """Refuse keys seen earlier in the file; keys already in the list are refused too,
        or update their record when the import updates duplicates."""
        column = self.schema.key_column
        fresh: list[NormalisedRow] = []
        for row in rows:
            assert row.key is not None
            first = self._seen_keys.get(row.key)
            if first is not None:
                bad.append(
                    Rejection(
                        row.line, f"duplicate key {row.key!r} (first seen on line {first})", column
                    )
                )
            else:
                self._seen_keys[row.key] = row.line
                fresh.append(row)
        if updates:
            changes = [(updates[r.line].record, r) for r in fresh if r.line in updates]
            if changes:
                self.sink.update(changes)
                self.report.rows_accepted += len(changes)
                self.report.rows_updated += len(changes)
                fresh = [r for r in fresh if r.line not in updates]
        # Rows found in the list when their batch was read were merged above; a key stored
        # since (by another transaction) is refused rather than overwritten unmerged.
        stored = self.sink.existing_keys([r.key for r in fresh if r.key is not None])
        if not stored:
            return fresh
        bad.extend(
            Rejection(r.line, f"duplicate key {r.key!r} (already in the list)", column)
            for r in fresh
            if r.key in stored
        )
        return [r for r in fresh if r.key not in stored]

    def _reject(self, rejections: Sequence[Rejection]) -> None:
        self.sink.reject(rejections)
        self.report.rows_rejected += len(rejections)
        room = REPORT_REJECTIONS_MAX - len(self.report.rejections)
        if room > 0:
            self.report.rejections.extend(rejections[:room])

    def _warn(self, outcomes: Sequence[Outcome], rejected: set[int]) -> None:
        """Report the stored rows whose zone is a fallback."""
        for outcome in outcomes:
            if isinstance(outcome, NormalisedRow) and outcome.zone_fallback is not None:
                if outcome.line not in rejected:
                    self.report.rows_warned += 1
                    if len(self.report.warnings) < REPORT_REJECTIONS_MAX:
                        self.report.warnings.append(outcome.zone_fallback)

    def _progress(self, stream: IO[bytes] | None) -> None:
        if self.on_progress is None or stream is None or not stream.seekable():
            return
        self.on_progress(stream.tell())


# --- CSV reading ------------------------------------------------------------------------------


def parse_mapping(raw: str | None, *, name: str = "mapping") -> dict[str, str | None] | None:
    """A column mapping as given (``name``: how the caller calls it, for messages): a JSON
    object of CSV header → list column, or null to leave the field out."""
    if not raw:
        return None
    try:
        mapping = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{name} is not JSON ({exc})", field="mapping") from None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in mapping.items()
    ):
        raise InvalidInput(
            f'{name} is a JSON object {{"CSV header": "list column" or null}}', field="mapping"
        )
    return mapping


def open_csv(
    stream: IO[bytes],
    schema: ListSchema,
    mapping: Mapping[str, str | None] | None = None,
    *,
    updating: bool = False,
) -> tuple[io.TextIOWrapper, CsvHeader]:
    """Open a CSV byte stream as text and resolve its header against ``schema``.

    Raises :class:`InvalidInput` when the file as a whole cannot be imported
    (no header, undecodable text, unknown or missing columns).
    """
    text = open_text(stream)
    try:
        delimiter, fields = read_header(text)
        return text, resolve_header(fields, delimiter, schema, mapping, updating=updating)
    except InvalidInput:
        text.detach()
        raise


def resolve_header(
    fields: list[str],
    delimiter: str,
    schema: ListSchema,
    mapping: Mapping[str, str | None] | None = None,
    *,
    updating: bool = False,
) -> CsvHeader:
    """Match header fields to list columns: by ``mapping`` first, else by name (any case).

    A file that may update records (``updating``) needs the key column, but not the
    required and phone columns: its rows take the values they lack from the records
    they update, and a row that adds a record is checked on its own.
    """
    by_folded = {name.casefold(): name for name in schema.column_names}
    positions: dict[int, str] = {}
    unknown: list[str] = []
    stripped = [f.strip() for f in fields]
    seen: dict[str, str] = {}
    for index, name in enumerate(stripped):
        if not name:
            raise InvalidInput(f"line 1: header field {index + 1} is empty", field="header")
        if mapping is not None and name in mapping:
            target = mapping[name]
            if target is None:
                continue
            if target not in schema.column_names:
                raise InvalidInput(
                    f"mapping sends {name!r} to {target!r}, which is not a column of the list",
                    field="mapping",
                )
        else:
            target = by_folded.get(name.casefold())
            if target is None:
                unknown.append(name)
                continue
        if target in seen:
            raise InvalidInput(
                f"line 1: header fields {seen[target]!r} and {name!r} both feed column {target!r}",
                field="header",
            )
        seen[target] = name
        positions[index] = target
    if unknown:
        raise InvalidInput(
            f"line 1: header field(s) {', '.join(map(repr, unknown))} match no column of the "
            f"list ({', '.join(schema.column_names)}); map or ignore them",
            field="header",
        )
    present = set(positions.values())
    if updating:
        if schema.key_column not in present:
            raise InvalidInput(
                f"line 1: the header lacks the key column {schema.key_column!r}, "
                "by which on_duplicate='update' finds the records to update",
                field="header",
            )
        return CsvHeader(delimiter, fields, positions)
    missing_required = [c.name for c in schema.columns if c.required and c.name not in present]
    if missing_required:
        raise InvalidInput(
            f"line 1: the header lacks required column(s) {', '.join(missing_required)}",
            field="header",
        )
    if not any(p.column in present for p in schema.phone_columns):
        raise InvalidInput(
            "line 1: the header has none of the list's phone columns", field="header"
        )
    return CsvHeader(delimiter, fields, positions)


def _csv_rows(text: io.TextIOWrapper, header: CsvHeader, report: ImportReport) -> Iterator[ReadRow]:
    expected = len(header.fields)
    positions = list(header.positions.items())
    for start, fields in numbered_rows(text, header.delimiter):
        report.rows_total += 1
        if len(fields) != expected:
            yield Rejection(start, f"wrong column count: expected {expected}, found {len(fields)}")
            continue
        yield start, {column: fields[index] for index, column in positions}


def _batched(rows: Iterator[ReadRow], size: int) -> Iterator[list[ReadRow]]:
    batch: list[ReadRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- worker process ---------------------------------------------------------------------------

_worker_normaliser: RowNormaliser | None = None


def _worker_init(schema_json: str) -> None:
    global _worker_normaliser
    _worker_normaliser = RowNormaliser(ListSchema.model_validate_json(schema_json))


def _worker_normalise(batch: list[ReadRow]) -> list[Outcome]:
    assert _worker_normaliser is not None
    return _normalise_batch(_worker_normaliser, batch)


def _normalise_batch(normaliser: RowNormaliser, batch: list[ReadRow]) -> list[Outcome]:
    return [
        row if isinstance(row, Rejection) else normaliser.normalise(row[0], row[1]) for row in batch
    ]
