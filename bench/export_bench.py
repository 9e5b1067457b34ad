"""Peak memory and speed of ``callhopper export`` on a campaign of a million records.

    python -m bench.export_bench [--records 1000000] [--no-sqlite] [--no-postgres] [--no-record]

A campaign over a list of ``--records`` records (a third attempted, half with a last
outcome) is written into a fresh SQLite file and a fresh PostgreSQL database with bulk SQL.
Then, each in a child process whose peak resident memory (with its children) is sampled:

* ``callhopper export CAMPAIGN -o FILE``, the command itself;
* the floor: one plain ``SELECT`` of the same rows, streamed through the database driver
  into a CSV file with :mod:`csv` (no batching, no services).

Target: the export's peak memory under 500 MB at a million records; its time is shown
against the floor measured in the same run.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from bench.common import (
    DATA_DIR,
    Run,
    append_results,
    fresh_postgres,
    fresh_sqlite,
    run_measured,
    table,
)
from callhopper.clock import SystemClock
from callhopper.domain.actors import SYSTEM
from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaign_values import CampaignSpec
from callhopper.domain.campaigns import CampaignSettings, DialingMode
from callhopper.domain.contacts import ColumnSpec, ListSchema, PhoneColumnSpec
from callhopper.domain.ownership import OwnerOrder
from callhopper.services import build
from callhopper.settings import Settings
from callhopper.store.db import Database
from callhopper.store.migrate import ensure_schema
from callhopper.store.records import sqlite_timestamp

TARGET_MB = 500

_SQLITE_RECORDS = """
INSERT INTO records (list_id, key, data, phones, tz, created_at, updated_at)
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :n)
SELECT :list, 'A' || n,
       json_object('account', 'A' || n, 'phone', '+1602' || printf('%07d', n)),
       json_array('+1602' || printf('%07d', n)), 'America/Phoenix', :now, :now
FROM seq
"""
_PG_RECORDS = """
INSERT INTO records (list_id, key, data, phones, tz, created_at, updated_at)
SELECT :list, 'A' || n,
       jsonb_build_object('account', 'A' || n, 'phone', '+1602' || lpad(n::text, 7, '0')),
       jsonb_build_array('+1602' || lpad(n::text, 7, '0')), 'America/Phoenix', :now, :now
FROM generate_series(1, :n) AS n
"""
_CAMPAIGN_RECORDS = """
INSERT INTO campaign_records (campaign_id, record_id, status, rank, tz, attempts, last_code,
                              last_at)
SELECT :campaign, id, CASE WHEN id % 2 = 0 THEN 'waiting' ELSE 'ready' END, id, tz, id % 3,
       CASE WHEN id % 2 = 0 THEN 'no_answer' END, CASE WHEN id % 2 = 0 THEN :now END
FROM records WHERE list_id = :list
"""
_FLOOR = """
SELECT c.record_id, r.key, c.status, c.attempts, c.last_code, c.last_at
FROM campaign_records c JOIN records r ON r.id = c.record_id
WHERE c.campaign_id = :campaign ORDER BY c.record_id
"""


def fill(url: str, records: int) -> int:
    """A campaign of ``records`` records in a fresh database; returns its id."""
    db = Database(url)
    ensure_schema(db)
    services = build(Settings(database_url=url), db, SystemClock())
    queue = services.admin.queues.create_queue(SYSTEM, name="bench")
    schema = ListSchema(
        columns=(ColumnSpec(name="account"), ColumnSpec(name="phone")),
        phone_columns=(PhoneColumnSpec(column="phone"),),
        key_column="account",
    )
    list_id = services.lists.create(SYSTEM, name="bench", description="", schema=schema)
    spec = CampaignSpec(
        name="bench",
        description="",
        list_id=list_id.contact_list.id,
        queue_id=queue.id,
        wrapup_set_id=1,
        mode=DialingMode.PREVIEW,
        agent_owned_column=None,
        owner_order=OwnerOrder.EMAIL_FIRST,
        sort=(),
        calling_window=CallingWindow(),
        settings=CampaignSettings(),
    )
    campaign_id = services.campaigns.create(SYSTEM, spec).campaign.id
    now = datetime.now(UTC)
    stamp: object = sqlite_timestamp(now) if db.dialect == "sqlite" else now
    params = {"list": list_id.contact_list.id, "n": records, "now": stamp, "campaign": campaign_id}
    with db.engine.begin() as conn:
        sql = _PG_RECORDS if db.dialect == "postgresql" else _SQLITE_RECORDS
        conn.execute(text(sql), params)
        conn.execute(text(_CAMPAIGN_RECORDS), params)
    with db.engine.connect() as conn:  # the planner's statistics, as autovacuum would take
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    db.dispose()
    return campaign_id


def floor(url: str, campaign_id: int, out: Path) -> None:
    """The same rows through one streamed SELECT into a CSV file."""
    db = Database(url)
    with db.engine.connect() as conn, out.open("w", newline="") as target:
        writer = csv.writer(target)
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(
            text(_FLOOR),
            {"campaign": campaign_id},
        )
        for row in result:
            writer.writerow(row)
    db.dispose()


def measured(args: list[str], attempts: int = 3) -> Run:
    """:func:`run_measured`, tried again when the child fails (on this shared machine,
    PostgreSQL refuses connections now and then when other processes hold them all)."""
    for attempt in range(1, attempts + 1):
        try:
            return run_measured(args)
        except RuntimeError as exc:
            if attempt == attempts or "too many clients" not in str(exc):
                raise
            print(f"{args[1]}: PostgreSQL refused the connection, trying again", flush=True)
            time.sleep(15)
    raise AssertionError("unreachable")


def measure(name: str, url: str, records: int) -> list[object]:
    campaign_id = fill(url, records)
    DATA_DIR.mkdir(exist_ok=True)
    out = DATA_DIR / f"export_{name}.csv"
    try:
        export = measured(
            ["-m", "callhopper.cli", "export", str(campaign_id), "-o", str(out),
             "--database-url", url]
        )  # fmt: skip
        lines = sum(1 for _ in out.open()) - 1
        base = measured(["-m", "bench.export_bench", "--floor", url, str(campaign_id), str(out)])
    finally:
        out.unlink(missing_ok=True)
    assert lines == records, (lines, records)
    return [
        name,
        f"{records:,}",
        f"{export.seconds:.1f}",
        f"{export.peak_mb:.0f}",
        f"{base.seconds:.1f}",
        f"{base.peak_mb:.0f}",
        f"{export.seconds / base.seconds:.2f}",
        "yes" if export.peak_mb < TARGET_MB else "NO",
    ]


def main(argv: list[str]) -> None:
    if argv[:1] == ["--floor"]:
        floor(argv[1], int(argv[2]), Path(argv[3]))
        return
    parser = argparse.ArgumentParser(prog="python -m bench.export_bench")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-record", action="store_true", help="Do not append to RESULTS.md.")
    args = parser.parse_args(argv)
    rows = []
    if not args.no_sqlite:
        with fresh_sqlite("export") as url:
            rows.append(measure("SQLite", url, args.records))
            print(rows[-1], flush=True)
    if not args.no_postgres:
        with fresh_postgres() as url:
            rows.append(measure("PostgreSQL", url, args.records))
    headers = [
        "database",
        "records",
        "export s",
        "export peak MB",
        "floor s",
        "floor peak MB",
        "export ÷ floor",
        f"< {TARGET_MB} MB",
    ]
    result = table(headers, rows)
    print(result)
    if not args.no_record:
        command = " ".join(["python -m bench.export_bench", *argv])
        append_results(
            "export_bench: callhopper export of a campaign",
            f"`{command}`\n\nPeak resident memory of the process (and its children), sampled "
            f"every 50 ms. The floor is one streamed SELECT of the same rows into a CSV file.\n\n"
            f"{result}",
        )


if __name__ == "__main__":
    main(sys.argv[1:])
