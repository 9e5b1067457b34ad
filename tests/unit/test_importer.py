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
)
from callhopper.domain.errors import InvalidInput


class MemorySink:
    def __init__(self, stored_keys: set[str] | None = None) -> None:
        self.rows: list[NormalisedRow] = []
        self.rejections: list[Rejection] = []
        self.stored_keys = stored_keys or set()

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        return self.stored_keys & set(keys)

    def write(self, rows: Sequence[NormalisedRow]) -> None:
        self.rows.extend(rows)

    def update(self, rows: Sequence[NormalisedRow]) -> None:
        self.rows.extend(rows)

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
