"""The import pipeline against an in-memory sink: streaming, batching, reports."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callhopper.core.importer import REPORT_REJECTIONS_MAX, Importer
from callhopper.domain.contacts import (
    MAX_VALUE_CHARS,
    ColumnSpec,
    ListSchema,
    NormalisedRow,
    PhoneColumnSpec,
    Rejection,
    StoredRecord,
)
from callhopper.domain.errors import InvalidInput


class MemorySink:
    def __init__(
        self,
        stored_keys: set[str] | None = None,
        stored: dict[str, StoredRecord] | None = None,
    ) -> None:
        self.rows: list[NormalisedRow] = []
        self.updated: list[tuple[StoredRecord, NormalisedRow]] = []
        self.rejections: list[Rejection] = []
        self.stored = dict(stored or {})
        self.stored_keys = (stored_keys or set()) | set(self.stored)

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        return self.stored_keys & set(keys)

    def stored_records(self, keys: Sequence[str]) -> dict[str, StoredRecord]:
        return {k: self.stored[k] for k in keys if k in self.stored}

    def write(self, rows: Sequence[NormalisedRow]) -> None:
        self.rows.extend(rows)

    def update(self, rows: Sequence[tuple[StoredRecord, NormalisedRow]]) -> None:
        self.updated.extend(rows)

    def reject(self, rejections: Sequence[Rejection]) -> None:
        self.rejections.extend(rejections)


SCHEMA = ListSchema(
    columns=(
        ColumnSpec(name="key", required=True),
        ColumnSpec(name="phone"),
        ColumnSpec(name="note"),
    ),
    phone_columns=(PhoneColumnSpec(column="phone"),),
    key_column="key",
    default_timezone="America/Phoenix",
)


def run(
    content: str,
    *,
    batch_rows: int = 100,
    sink: MemorySink | None = None,
    raw: bytes | None = None,
) -> MemorySink:
    sink = sink or MemorySink()
    data = raw if raw is not None else content.encode()
    Importer(SCHEMA, sink, batch_rows=batch_rows).run_csv(io.BytesIO(data))
    return sink


def test_quoted_fields_spanning_lines_keep_line_numbers_right() -> None:
    content = 'key,phone,note\na,(602) 234-5678,"two\nlines"\nb,bad,x\n\nc,(602) 234-5679\n'
    sink = run(content)
    assert [r.line for r in sink.rows] == [2]
    assert [(r.line, r.column) for r in sink.rejections] == [(4, "phone"), (6, None)]
    assert sink.rows[0].data["note"] == "two\nlines"


def test_semicolon_header_and_crlf() -> None:
    sink = run("key;phone\r\nk1;(602) 234-5678\r\nk2;(602) 234-5679\r\n")
    assert [r.key for r in sink.rows] == ["k1", "k2"]


def test_keys_already_stored_are_rejected() -> None:
    sink = run("key,phone\nk1,(602) 234-5678\nk2,(602) 234-5679\n", sink=MemorySink({"k2"}))
    assert [r.key for r in sink.rows] == ["k1"]
    assert sink.rejections[0].reason == "duplicate key 'k2' (already in the list)"


def test_report_lists_the_first_rejections_and_counts_all() -> None:
    lines = ["key,phone"] + [f"k{n},bad" for n in range(REPORT_REJECTIONS_MAX + 5)]
    sink = MemorySink()
    report = Importer(SCHEMA, sink, batch_rows=97).run_csv(io.BytesIO("\n".join(lines).encode()))
    assert report.rows_rejected == REPORT_REJECTIONS_MAX + 5
    assert len(report.rejections) == REPORT_REJECTIONS_MAX
    assert report.rejections_truncated
    assert len(sink.rejections) == REPORT_REJECTIONS_MAX + 5
    assert [r.line for r in report.rejections] == list(range(2, REPORT_REJECTIONS_MAX + 2))


def test_unreadable_csv_names_the_line() -> None:
    with pytest.raises(InvalidInput, match="line 3"):
        run('key,phone\nk1,(602) 234-5678\n"k2,(602) 234-5679\n', batch_rows=1)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["k1", "k2", "k3", "k4", ""]),
            st.sampled_from(["(602) 234-5678", "602-234-5679", "12", "", "x"]),
            st.integers(min_value=1, max_value=3),
        ),
        max_size=40,
    ),
    batch_rows=st.integers(min_value=1, max_value=7),
)
def test_every_row_is_either_stored_or_rejected_once(
    rows: list[tuple[str, str, int]], batch_rows: int
) -> None:
    """Nothing is silently dropped: every non-blank line is stored or rejected, exactly once."""
    lines = ["key,phone,note"]
    lines += [",".join([key, f'"{phone}"', "n"][:fields]) for key, phone, fields in rows]
    sink = run("\n".join(lines) + "\n", batch_rows=batch_rows)
    seen = sorted([r.line for r in sink.rows] + [r.line for r in sink.rejections])
    assert seen == [n for n, line in enumerate(lines, start=1) if n > 1 and line.strip()]
    keys = [r.key for r in sink.rows]
    assert len(keys) == len(set(keys))


# --- on_duplicate="update" merges into the stored record ------------------------------------

MERGE_SCHEMA = ListSchema(
    columns=(
        ColumnSpec(name="key", required=True),
        ColumnSpec(name="phone"),
        ColumnSpec(name="phone2"),
        ColumnSpec(name="zip"),
        ColumnSpec(name="note"),
        ColumnSpec(name="balance"),
    ),
    phone_columns=(PhoneColumnSpec(column="phone"), PhoneColumnSpec(column="phone2")),
    timezone_source={"kind": "postal_code", "column": "zip"},  # type: ignore[arg-type]
    key_column="key",
)
STORED = StoredRecord(
    7,
    {
        "key": "k1",
        "phone": "(602) 234-5678",
        "phone2": "(212) 555-0123",
        "zip": "10001",
        "note": "will pay on the 15th",
        "balance": "50.00",
    },
    None,
)


def test_update_keeps_the_columns_the_file_lacks_and_derives_from_the_merge() -> None:
    sink = MemorySink(stored={"k1": STORED})
    report = Importer(MERGE_SCHEMA, sink, on_duplicate="update").run_csv(
        io.BytesIO(b"key,phone,balance\nk1,,100.00\n")
    )
    assert (report.rows_updated, report.rows_rejected) == (1, 0)
    [(record, row)] = sink.updated
    assert record.id == 7
    # The file's columns overwrite, an empty one clears; the others keep their values.
    assert row.data == {
        "key": "k1",
        "phone2": "(212) 555-0123",
        "zip": "10001",
        "note": "will pay on the 15th",
        "balance": "100.00",
    }
    # Phones and zone come from the merged values: the stored second phone, the stored zip.
    assert row.phones == [None, "+12125550123"]
    assert row.tz == "America/New_York"


def test_json_update_without_required_or_phone_columns_merges() -> None:
    sink = MemorySink(stored={"k1": STORED})
    report = Importer(MERGE_SCHEMA, sink, on_duplicate="update").run_items(
        [{"key": "k1", "note": None, "balance": 3}, {"key": "k2", "balance": 1}]
    )
    assert (report.rows_updated, report.rows_rejected) == (1, 1)
    [(_, row)] = sink.updated
    assert row.data["balance"] == "3"
    assert "note" not in row.data  # null clears, as an empty CSV field does
    assert row.phones == ["+16022345678", "+12125550123"]
    assert sink.rejections[0].line == 2  # a new record still needs its phone


def test_a_key_stored_after_its_batch_was_read_is_rejected_not_overwritten() -> None:
    sink = MemorySink(stored_keys={"k1"})  # in the list, but not found when merging
    Importer(SCHEMA, sink, on_duplicate="update").run_csv(io.BytesIO(b"key,phone\nk1,6022345678\n"))
    assert sink.updated == []
    assert sink.rejections[0].reason == "duplicate key 'k1' (already in the list)"


# --- rows the reader or the database could not take ------------------------------------------


def test_a_field_over_the_limit_rejects_its_row_only() -> None:
    long = "y" * (MAX_VALUE_CHARS + 1)
    sink = run(f'key,phone,note\nk1,6022345678,{long}\nk2,6022345679,ok\nk3,6022345670,"{long}"\n')
    assert [r.key for r in sink.rows] == ["k2"]
    assert [(r.line, r.column) for r in sink.rejections] == [(2, "note"), (4, "note")]
    assert f"at most {MAX_VALUE_CHARS}" in sink.rejections[0].reason


def test_a_field_over_the_csv_module_default_limit_rejects_its_row_only() -> None:
    sink = run("key,phone,note\nk1,6022345678," + "y" * 200_000 + "\nk2,6022345679,ok\n")
    assert [r.key for r in sink.rows] == ["k2"]
    assert "value too long" in sink.rejections[0].reason


def test_nul_characters_reject_their_row() -> None:
    sink = run("key,phone,note\nk1,6022345678,a\x00b\nk2,6022345679,ok\n")
    assert [r.key for r in sink.rows] == ["k2"]
    assert sink.rejections[0].line == 2
    assert "NUL" in sink.rejections[0].reason
    items = Importer(SCHEMA, sink := MemorySink()).run_items(
        [{"key": "k3", "phone": "6022345678", "note": "\x00"}, {"key": "k4\x00", "phone": "1"}]
    )
    assert items.rows_rejected == 2 and sink.rows == []


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"key,phone\nk1,6022345678\nk2,6022345679\nk3,6022345670\nk\xe9,6022345671\n", 5),
        (b'key,phone,note\nk1,6022345678,"a\nb\r\nc\xff"\n', 4),
        (b"key,phone\n" + b"k,6022345678\n" * 12000 + b"\xe9,6022345678\n", 12002),
        (b"key,ph\xe9ne\n", 1),
    ],
)
def test_bytes_that_are_not_utf8_are_reported_on_their_line(content: bytes, line: int) -> None:
    with pytest.raises(InvalidInput, match=f"^line {line}: the file is not UTF-8 text$"):
        run(content.decode("latin-1"), batch_rows=50_000, raw=content)


@pytest.mark.parametrize(
    ("header", "row"),
    [
        ('"Name, full";phone', '"Doe, J";6022345678'),
        ('"a,b";"c,d";phone', "x;y;6022345678"),
        ("name\taddr\tphone", "Doe, J\t1 Main St, Apt 2\t6022345678"),
    ],
)
def test_separators_inside_quoted_header_fields_do_not_count(header: str, row: str) -> None:
    names = [h.strip('"') for h in header.replace("\t", ";").split(";")]
    schema = ListSchema(
        columns=tuple(ColumnSpec(name=n) for n in names),
        phone_columns=(PhoneColumnSpec(column="phone"),),
        default_timezone="America/Phoenix",
    )
    sink = MemorySink()
    report = Importer(schema, sink).run_csv(io.BytesIO(f"{header}\n{row}\n".encode()))
    assert (report.rows_accepted, report.rows_rejected) == (1, 0)
    assert sink.rows[0].phones == ["+16022345678"]


def test_an_updating_file_needs_the_key_column_but_not_the_phones() -> None:
    sink = MemorySink(stored={"k1": STORED})
    importer = Importer(MERGE_SCHEMA, sink, on_duplicate="update")
    report = importer.run_csv(io.BytesIO(b"key,note\nk1,called\nk9,new\n"))
    assert (report.rows_updated, report.rows_rejected) == (1, 1)
    assert sink.updated[0][1].phones == ["+16022345678", "+12125550123"]
    assert "no phone number" in sink.rejections[0].reason  # k9 would be a new record
    with pytest.raises(InvalidInput, match="lacks the key column 'key'"):
        Importer(MERGE_SCHEMA, MemorySink(), on_duplicate="update").run_csv(
            io.BytesIO(b"phone,note\n6022345678,x\n")
        )


def test_updates_merge_the_same_with_worker_processes() -> None:
    stored = {
        f"k{n}": StoredRecord(n, {"key": f"k{n}", "phone2": "(212) 555-0123", "zip": "10001"}, None)
        for n in range(0, 40, 2)
    }
    lines = ["key,phone,note"] + [f"k{n},(602) 234-{5600 + n},n{n}" for n in range(40)]
    sink = MemorySink(stored=stored)
    report = Importer(MERGE_SCHEMA, sink, workers=2, batch_rows=7, on_duplicate="update").run_csv(
        io.BytesIO("\n".join(lines).encode())
    )
    assert (report.rows_accepted, report.rows_updated, report.rows_rejected) == (40, 20, 0)
    assert sorted(record.id for record, _ in sink.updated) == list(range(0, 40, 2))
    for _, row in sink.updated:
        assert row.data["zip"] == "10001" and row.tz == "America/New_York"
        assert row.phones[1] == "+12125550123"
    assert all("zip" not in row.data for row in sink.rows)
