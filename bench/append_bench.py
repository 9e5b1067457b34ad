"""Appending to a list that a running campaign works: what placing the new records in the
campaign's order costs.

Records appended while a campaign runs take their sorted place among the records already
there (``callhopper.store.snapshot_ranks``): one statement over the whole list. This
measures an append of 1 and of 1,000 records into a list of ``--rows`` records that a
running campaign (sorted by balance) works, against the same append into a list of the same
size that no campaign uses, measured in the same run: the ratio is the placement's cost.

    .venv/bin/python -m bench.append_bench --rows 100000
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from bench.common import append_results, fresh_postgres, fresh_sqlite, table
from callhopper.clock import SystemClock
from callhopper.core.lists import create_list, import_rows
from callhopper.demo import LIST_NAME, create_demo, demo_rows, demo_schema
from callhopper.domain.actors import SYSTEM
from callhopper.store.db import Database
from callhopper.store.migrate import ensure_schema
from callhopper.store.uow import SqlUnitOfWork

REPEATS = 5


def _rows(prefix: str, count: int, seed: int) -> list[dict[str, str]]:
    rows = demo_rows(max(count, 2), seed=seed)[:count]
    for n, row in enumerate(rows):
        row["account"] = f"{prefix}-{n}"
    return rows


def _append(db: Database, list_id: int, rows: list[dict[str, str]]) -> float:
    started = time.perf_counter()
    with SqlUnitOfWork(db).write() as tx:
        outcome = import_rows(tx, SYSTEM, list_id, source="bench", items=rows, clock=SystemClock())
    assert outcome.report.rows_accepted == len(rows), outcome.report.rejections[:3]
    return time.perf_counter() - started


def measure(url: str, size: int) -> dict[str, float]:
    db = Database(url)
    ensure_schema(db)
    create_demo(db, datetime.now(UTC))  # a running campaign, sorted by balance, on its list
    with SqlUnitOfWork(db).read() as tx:
        worked = tx.lists.by_name(LIST_NAME).id
    with SqlUnitOfWork(db).write() as tx:
        idle = create_list(
            tx, SYSTEM, name="idle", description="", schema=demo_schema(), now=datetime.now(UTC)
        ).id
    _append(db, worked, _rows("W", size, 1))
    _append(db, idle, _rows("I", size, 1))
    figures: dict[str, float] = {}
    for batch in (1, 1000):
        for name, list_id in (("idle", idle), ("worked", worked)):
            times = [
                _append(db, list_id, _rows(f"{name}{batch}-{n}", batch, 10 + n))
                for n in range(REPEATS)
            ]
            figures[f"{name} {batch}"] = statistics.median(times) * 1000
    db.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    rows = []
    backends = [("SQLite", fresh_sqlite("append"))]
    if not args.no_postgres:
        backends.append(("PostgreSQL", fresh_postgres()))
    for name, fresh in backends:
        with fresh as url:
            figures = measure(url, args.rows)
        for batch in (1, 1000):
            idle, worked = figures[f"idle {batch}"], figures[f"worked {batch}"]
            rows.append((name, batch, f"{idle:.1f}", f"{worked:.1f}", f"{worked / idle:.2f}"))
    body = table(
        [
            "database",
            "records appended",
            "list without campaign (ms)",
            "list with a running campaign (ms)",
            "ratio",
        ],
        rows,
    )
    print(body)
    if not args.no_record:
        append_results(
            f"Appending to a running campaign's list of {args.rows:,} records",
            f"`.venv/bin/python -m bench.append_bench --rows {args.rows}`, median of "
            f"{REPEATS} appends each\n\n{body}",
        )


if __name__ == "__main__":
    main()
