"""Reading a CSV file of do-not-call numbers into a list (:class:`DncImport`).

The file is UTF-8 (with or without BOM) with a header row naming a ``number`` column (any
case; other columns are ignored); the separator (``,`` ``;`` or tab) is read from the header.
It is read as a stream, in batches. Each row is added or reported with its line number (the
header is line 1) and reason: wrong column count, empty or invalid number, a number seen
earlier in the file, or one already in the list. Memory grows with the distinct numbers of the
file (to report repeats with their first line), not with its size. A file-level problem raises
:class:`~callhopper.domain.errors.InvalidInput`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import IO

from callhopper.domain.contacts import REPORT_REJECTIONS_MAX, Rejection
from callhopper.domain.csvtext import numbered_rows, open_text, read_header
from callhopper.domain.dnc import DncImportReport
from callhopper.domain.errors import InvalidInput
from callhopper.domain.phones import PhoneError, normalise_phone

NUMBER_HEADER = "number"

#: Stores a batch of distinct E.164 numbers and answers those that were not in the list yet.
AddNumbers = Callable[[Sequence[str]], set[str]]


class DncImport:
    """One CSV import: reads rows, batches good numbers, reports the rest in line order."""

    def __init__(
        self, add: AddNumbers, region: str, batch_rows: int, report: DncImportReport
    ) -> None:
        self.add = add
        self.region = region
        self.batch_rows = max(1, batch_rows)
        self.report = report
        #: Number → the line it was first seen on, for repeats within the file.
        self.seen: dict[str, int] = {}
        self.batch: list[tuple[int, str]] = []
        self.bad: list[Rejection] = []

    def run(self, stream: IO[bytes]) -> None:
        """Read the header and every row, storing and reporting batch by batch. The caller
        owns ``stream`` and closes it."""
        text = open_text(stream)
        try:
            self._run(text)
        finally:
            text.detach()  # the caller owns the byte stream

    def _run(self, text: io.TextIOWrapper) -> None:
        delimiter, width, position = _read_header(text)
        for line, fields in numbered_rows(text, delimiter):
            self.report.rows_total += 1
            self._row(line, fields, width, position)
            if len(self.batch) + len(self.bad) >= self.batch_rows:
                self._flush()
        self._flush()

    def _row(self, line: int, fields: list[str], width: int, position: int) -> None:
        if len(fields) != width:
            self.bad.append(
                Rejection(line, f"wrong column count: expected {width}, found {len(fields)}")
            )
            return
        raw = fields[position].strip()
        if not raw:
            self.bad.append(Rejection(line, "the number is empty", NUMBER_HEADER))
            return
        try:
            e164 = normalise_phone(raw, self.region)
        except PhoneError as exc:
            self.bad.append(Rejection(line, str(exc), NUMBER_HEADER))
            return
        first = self.seen.get(e164)
        if first is not None:
            self.bad.append(
                Rejection(
                    line, f"duplicate number {e164} (first seen on line {first})", NUMBER_HEADER
                )
            )
            return
        self.seen[e164] = line
        self.batch.append((line, e164))

    def _flush(self) -> None:
        if self.batch:
            added = self.add([n for _, n in self.batch])
            self.report.rows_accepted += len(added)
            self.bad.extend(
                Rejection(line, f"number {e164} is already in the list", NUMBER_HEADER)
                for line, e164 in self.batch
                if e164 not in added
            )
        if self.bad:
            # Batches are consecutive: sorting each keeps the whole report in line order.
            self.bad.sort(key=lambda r: r.line)
            self.report.rows_rejected += len(self.bad)
            room = REPORT_REJECTIONS_MAX - len(self.report.rejections)
            if room > 0:
                self.report.rejections.extend(self.bad[:room])
        self.batch = []
        self.bad = []


def _read_header(text: io.TextIOWrapper) -> tuple[str, int, int]:
    """The separator, the number of fields, and the position of the ``number`` field."""
    delimiter, fields = read_header(text)
    names = [f.strip().casefold() for f in fields]
    positions = [i for i, name in enumerate(names) if name == NUMBER_HEADER]
    if not positions:
        found = ", ".join(repr(f.strip()) for f in fields)
        raise InvalidInput(
            f"line 1: the header needs a {NUMBER_HEADER!r} column (found {found}); "
            "a header row is required",
            field="header",
        )
    if len(positions) > 1:
        raise InvalidInput(
            f"line 1: the header has {len(positions)} {NUMBER_HEADER!r} columns", field="header"
        )
    return delimiter, len(fields), positions[0]
