"""Reading CSV text the way every import does (contact lists, DNC lists): the header row
picks the separator, each data row carries the line it starts on, blank lines are skipped,
and broken text is refused with the line where it was found."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from callhopper.domain.errors import InvalidInput

#: The separators an import accepts; the header row's most frequent one wins.
DELIMITERS = (",", ";", "\t")


def read_header(text: io.TextIOBase) -> tuple[str, list[str]]:
    """The separator and the fields of the header row (line 1)."""
    try:
        header_line = text.readline()
    except UnicodeDecodeError:
        raise InvalidInput("line 1: the file is not UTF-8 text", field="file") from None
    if not header_line.strip():
        raise InvalidInput("the file is empty: a header row is required", field="file")
    delimiter = max(DELIMITERS, key=header_line.count)
    try:
        fields = next(csv.reader([header_line], delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise InvalidInput(f"line 1: unreadable header ({exc})", field="header") from None
    return delimiter, fields


def numbered_rows(text: io.TextIOBase, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Rows after the header with the line each starts on (a quoted field may span
    lines); blank lines are skipped."""
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    line_end = 1  # the header
    while True:
        start = line_end + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise InvalidInput(
                f"line {start} or shortly after: the file is not UTF-8 text", field="file"
            ) from None
        except csv.Error as exc:
            raise InvalidInput(f"line {start}: unreadable CSV ({exc})", field="file") from None
        line_end = reader.line_num + 1
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        yield start, fields
