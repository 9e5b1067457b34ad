"""Reading CSV text as every import does: the separator, line numbers, blank lines and
broken text (no database)."""

from __future__ import annotations

import io

import pytest

from callhopper.domain.contacts import MAX_VALUE_CHARS
from callhopper.domain.csvtext import header_delimiter, numbered_rows, open_text, read_header
from callhopper.domain.errors import InvalidInput


def read(data: bytes) -> tuple[str, list[str], list[tuple[int, list[str]]]]:
    text = open_text(io.BytesIO(data))
    delimiter, header = read_header(text)
    return delimiter, header, list(numbered_rows(text, delimiter))


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ("a,b,c\n", ","),
        ("a;b;c\n", ";"),
        ("a\tb\tc\n", "\t"),
        ('"Name, full";phone;state\n', ";"),  # quoted separators say nothing
        ("a;b,c\n", ","),  # a tie goes to the first of , ; tab
        ("single\n", ","),
    ],
)
def test_the_header_row_picks_the_separator(header: str, delimiter: str) -> None:
    assert header_delimiter(header) == delimiter


def test_rows_carry_the_line_they_start_on() -> None:
    data = b'\xef\xbb\xbfname;note\nAnn;"two\nlines"\n\n   \nBob;x\r\n'
    delimiter, header, rows = read(data)
    assert (delimiter, header) == (";", ["name", "note"])  # the BOM is skipped
    assert rows == [(2, ["Ann", "two\nlines"]), (6, ["Bob", "x"])]


def test_a_long_value_is_read_so_that_its_row_can_be_refused() -> None:
    long = "x" * (MAX_VALUE_CHARS + 1)
    _, _, rows = read(f"a,b\n1,{long}\n".encode())
    assert rows == [(2, ["1", long])]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty: a header row is required"),
        (b"\n\n", "the file is empty"),
        (b"na\xffme,phone\n", "line 1: the file is not UTF-8 text"),
        (b'a,b\n"open,x\n', "line 2: unreadable CSV"),
        (b"a,b\n1,2\n3,\xe9\n", "line 3: the file is not UTF-8 text"),
        (b'a,b\n1,"multi\nline \xe9"\n', "line 3: the file is not UTF-8 text"),
    ],
)
def test_broken_text_is_refused_with_its_line(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        read(data)
