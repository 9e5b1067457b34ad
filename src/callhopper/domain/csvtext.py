"""Reading CSV text the way every import does (contact lists, DNC lists): the header row
picks the separator, each data row carries the line it starts on, blank lines are skipped,
and broken text is refused with the line where it was found."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Final

from callhopper.domain.errors import InvalidInput

#: The separators an import accepts; the header row's most frequent one wins.
DELIMITERS = (",", ";", "\t")
#: What the csv parser itself accepts: far above the longest value a row may hold
#: (``contacts.MAX_VALUE_CHARS``), so that an overlong field is reported for its row
#: instead of stopping the parser, which cannot resume mid-row. The parser's limit is
#: process-wide; it is only ever raised here.
_PARSER_FIELD_CHARS: Final = 2**31 - 1

#: A quoted header field, whose separators do not count.
_QUOTED = re.compile(r'"(?:[^"]|"")*"')
#: Bytes that are not UTF-8, as decoded by ``errors="surrogateescape"``.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def open_text(stream: IO[bytes]) -> io.TextIOWrapper:
    """A CSV byte stream as text (UTF-8, BOM skipped). Bytes that are not UTF-8 pass
    through as surrogates so that :func:`read_header` and :func:`numbered_rows` report
    the physical line they are on, rather than where the decoder's read-ahead was."""
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="", errors="surrogateescape")


def read_header(text: io.TextIOBase) -> tuple[str, list[str]]:
    """The separator and the fields of the header row (line 1) of a :func:`open_text`."""
    header_line = text.readline()
    if _NOT_UTF8.search(header_line):
        raise InvalidInput("line 1: the file is not UTF-8 text", field="file")
    if not header_line.strip():
        raise InvalidInput("the file is empty: a header row is required", field="file")
    delimiter = header_delimiter(header_line)
    try:
        fields = next(csv.reader([header_line], delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise InvalidInput(f"line 1: unreadable header ({exc})", field="header") from None
    return delimiter, fields


def header_delimiter(header_line: str) -> str:
    """The separator that occurs most often in the header outside quoted fields (a quoted
    ``"Name, full"`` says nothing about the separator); ties go to the earlier of
    :data:`DELIMITERS`."""
    bare = _QUOTED.sub("", header_line)
    return max(DELIMITERS, key=bare.count)


def numbered_rows(text: io.TextIOBase, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Rows after the header with the line each starts on (a quoted field may span
    lines); blank lines are skipped."""
    if csv.field_size_limit() < _PARSER_FIELD_CHARS:
        csv.field_size_limit(_PARSER_FIELD_CHARS)
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    line_end = 1  # the header
    while True:
        start = line_end + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidInput(f"line {start}: unreadable CSV ({exc})", field="file") from None
        line_end = reader.line_num + 1
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        for index, value in enumerate(fields):
            if _NOT_UTF8.search(value):
                raise InvalidInput(
                    f"line {_bad_byte_line(start, delimiter, fields, index)}: "
                    "the file is not UTF-8 text",
                    field="file",
                )
        yield start, fields


def _bad_byte_line(start: int, delimiter: str, fields: list[str], index: int) -> int:
    """The physical line of the first undecodable byte in ``fields[index]`` of a row that
    starts on line ``start`` (earlier fields and the field itself may span lines)."""
    before = delimiter.join(fields[:index])
    value = fields[index]
    head = value[: _NOT_UTF8.search(value).start()]  # type: ignore[union-attr]
    return start + len(_LINE_BREAK.findall(before)) + len(_LINE_BREAK.findall(head))


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """``header`` then ``rows`` as CSV lines (``None`` as an empty field), one at a time:
    a caller streaming them holds one row in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in itertools.chain([header], rows):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(["" if value is None else value for value in row])
        yield buffer.getvalue()
