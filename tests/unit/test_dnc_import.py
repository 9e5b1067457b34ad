"""A do-not-call CSV import into an in-memory list: batches, repeats and the report."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pytest

from callhopper.core.dnc_import import DncImport
from callhopper.domain.contacts import REPORT_REJECTIONS_MAX
from callhopper.domain.dnc import DncImportReport
from callhopper.domain.errors import InvalidInput


class MemoryList:
    def __init__(self, present: Sequence[str] = ()) -> None:
        self.numbers = set(present)
        self.batches: list[list[str]] = []

    def add(self, numbers: Sequence[str]) -> set[str]:
        self.batches.append(list(numbers))
        added = set(numbers) - self.numbers
        self.numbers |= added
        return added


def run(
    content: str, *, present: Sequence[str] = (), batch_rows: int = 100
) -> tuple[DncImportReport, MemoryList]:
    target = MemoryList(present)
    report = DncImportReport(list_id=1, source="test.csv")
    DncImport(target.add, "US", batch_rows, report).run(io.BytesIO(content.encode()))
    return report, target


def test_rows_are_added_or_reported_by_line() -> None:
    content = "name;Number\na;602-200-0001\nb;602 200 0002\nc;not a phone\nd;\ne;+16022000001\nf\n"
    report, target = run(content, present=["+16022000002"])
    assert (report.rows_total, report.rows_accepted, report.rows_rejected) == (6, 1, 5)
    assert target.numbers == {"+16022000001", "+16022000002"}
    assert [(r.line, r.column) for r in report.rejections] == [
        (3, "number"),
        (4, "number"),
        (5, "number"),
        (6, "number"),
        (7, None),
    ]
    assert report.rejections[0].reason == "number +16022000002 is already in the list"
    assert report.rejections[3].reason == "duplicate number +16022000001 (first seen on line 2)"
    assert not report.rejections_truncated


def test_batches_keep_the_report_in_line_order_and_capped() -> None:
    rows = ["number"] + [f"602200{n % 5000:04d}" if n % 2 else "junk" for n in range(2500)]
    report, target = run("\n".join(rows), batch_rows=7)
    assert max(len(b) for b in target.batches) <= 7
    assert report.rows_accepted == 1250
    assert report.rows_rejected == 1250
    assert len(report.rejections) == REPORT_REJECTIONS_MAX
    assert report.rejections_truncated
    lines = [r.line for r in report.rejections]
    assert lines == sorted(lines)


@pytest.mark.parametrize("header", ["phone\n", "number,NUMBER\n", ""])
def test_the_header_needs_one_number_column(header: str) -> None:
    with pytest.raises(InvalidInput):
        run(header + "6022000001\n")
