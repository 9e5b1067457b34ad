"""Import speed against its two unavoidable costs, measured in the same run.

    python -m bench.import_bench [--rows 1000000] [--workers N] [--no-postgres] [--no-record]

For a generated CSV (8 columns, 2 phone columns, national and international
formats mixed) it measures, each in a child process whose peak memory (with its
worker processes) is sampled:

* (a) the full import (``callhopper.core.lists.import_rows``) into a
  fresh SQLite file and a fresh PostgreSQL database;
* (b) the CPU floor: reading and normalising the same file, storing nothing;
* (c) the storage floor: bulk-writing the already-normalised rows into a bare
  table (``COPY`` on PostgreSQL, ``executemany`` on SQLite).

Target: (a) ≥ 50% of the slower of (b) and (c) on each database, peak memory
< 500 MB, and a 1,000,000-row import under 90 s.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.common import (
    DATA_DIR,
    append_results,
    fresh_postgres,
    fresh_sqlite,
    run_measured,
    table,
)

HEADER = [
    "account",
    "first_name",
    "last_name",
    "state",
    "zip",
    "balance",
    "home_phone",
    "cell_phone",
]
_FIRST = ["Ana", "Ben", "Chloe", "Dev", "Emma", "Femi", "Grace", "Hiro", "Ines", "Jon"]
_LAST = ["Garcia", "Smith", "Nguyen", "Okafor", "Tanaka", "Kowalski", "Haddad", "Silva"]
#: (state, ZIP prefix, area codes)
_PLACES = [
    ("AZ", "850", ["602", "480", "623"]),
    ("CA", "941", ["415", "628", "510"]),
    ("NY", "100", ["212", "646", "917"]),
    ("TX", "752", ["214", "469", "972"]),
    ("IL", "606", ["312", "773", "872"]),
    ("FL", "331", ["305", "786"]),
    ("WA", "981", ["206", "425"]),
    ("CO", "802", ["303", "720"]),
]


def list_schema() -> object:
    from callhopper.domain.contacts import ColumnSpec, ListSchema, PhoneColumnSpec, TimezoneSource
    from callhopper.domain.phones import PhoneType
    from callhopper.domain.timezones import TimezoneSourceKind

    return ListSchema(
        columns=tuple(ColumnSpec(name=h, required=h == "account") for h in HEADER),
        phone_columns=(
            PhoneColumnSpec(column="cell_phone", type=PhoneType.CELL),
            PhoneColumnSpec(column="home_phone", type=PhoneType.HOME),
        ),
        timezone_source=TimezoneSource(kind=TimezoneSourceKind.POSTAL_CODE, column="zip"),
        key_column="account",
        default_region="US",
    )


def _phone(rng: random.Random, area: str) -> str:
    exchange, line = rng.randint(200, 989), rng.randint(0, 9999)
    style = rng.random()
    if style < 0.30:
        return f"({area}) {exchange}-{line:04d}"
    if style < 0.50:
        return f"{area}-{exchange}-{line:04d}"
    if style < 0.65:
        return f"{area}{exchange}{line:04d}"
    if style < 0.85:
        return f"+1 {area} {exchange} {line:04d}"
    if style < 0.93:
        return f"+44 20 7{rng.randint(100, 999)} {line:04d}"
    return f"011 81 3 {rng.randint(1000, 9999)} {line:04d}"


def generate(rows: int) -> Path:
    """The benchmark CSV, made once per size and reused."""
    DATA_DIR.mkdir(exist_ok=True)
    path = DATA_DIR / f"contacts_{rows}.csv"
    if path.exists():
        return path
    rng = random.Random(20261123)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for n in range(rows):
            state, zip3, areas = _PLACES[n % len(_PLACES)]
            writer.writerow(
                [
                    f"AC{n:08d}",
                    rng.choice(_FIRST),
                    rng.choice(_LAST),
                    state,
                    f"{zip3}{rng.randint(0, 99):02d}",
                    f"{rng.randint(0, 99999)}.{rng.randint(0, 99):02d}",
                    _phone(rng, rng.choice(areas)),
                    _phone(rng, rng.choice(areas)) if rng.random() < 0.7 else "",
                ]
            )
    tmp.rename(path)
    return path


def normalised(csv_path: Path) -> Path:
    """The rows as the import stores them, one JSON array per line (made once, not timed)."""
    path = csv_path.with_suffix(".normalised.jsonl")
    if path.exists():
        return path
    from callhopper.core.importer import Importer

    sink = _FileSink(path.with_suffix(".tmp"))
    with csv_path.open("rb") as stream:
        Importer(list_schema(), sink, workers=2, batch_rows=5000).run_csv(stream)  # type: ignore[arg-type]
    sink.close()
    path.with_suffix(".tmp").rename(path)
    return path


class _NullSink:
    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        return set()

    def write(self, rows: Sequence[object]) -> None:
        pass

    def reject(self, rejections: Sequence[object]) -> None:
        pass


class _FileSink(_NullSink):
    def __init__(self, path: Path) -> None:
        self.out = path.open("w")

    def write(self, rows: Sequence[object]) -> None:
        for row in rows:
            self.out.write(json.dumps([row.key, row.data, row.phones, row.tz]) + "\n")  # type: ignore[attr-defined]

    def close(self) -> None:
        self.out.close()


# --- phases (each runs in a child process) ------------------------------------------------------


def phase_cpu(file: Path, workers: int) -> dict[str, float]:
    from callhopper.core.importer import Importer

    started = time.perf_counter()
    with file.open("rb") as stream:
        report = Importer(list_schema(), _NullSink(), workers=workers, batch_rows=5000).run_csv(
            stream
        )  # type: ignore[arg-type]
    return {"seconds": time.perf_counter() - started, "rows": report.rows_accepted}


def phase_import(file: Path, url: str, workers: int) -> dict[str, float]:
    from callhopper.clock import SystemClock
    from callhopper.core import lists as core_lists
    from callhopper.domain.actors import SYSTEM
    from callhopper.store.db import Database
    from callhopper.store.migrate import ensure_schema
    from callhopper.store.uow import SqlTransaction

    db = Database(url)
    ensure_schema(db)
    now = datetime.now(UTC)
    with db.write() as session:
        contact_list = core_lists.create_list(
            SqlTransaction(session),
            SYSTEM,
            name="bench",
            description="",
            schema=list_schema(),
            now=now,  # type: ignore[arg-type]
        )
    started = time.perf_counter()
    with file.open("rb") as stream, db.write() as session:
        outcome = core_lists.import_rows(
            SqlTransaction(session), SYSTEM, contact_list.id, source=file.name, csv_stream=stream,
            workers=workers, batch_rows=5000, clock=SystemClock(),
        )  # fmt: skip
    seconds = time.perf_counter() - started
    db.dispose()
    return {"seconds": seconds, "rows": outcome.report.rows_accepted}


_BARE = "bare_records"


def phase_storage(file: Path, url: str) -> dict[str, float]:
    from callhopper.store.db import Database
    from callhopper.store.records import sqlite_timestamp

    db = Database(url)
    pg = db.dialect == "postgresql"
    json_type, time_type = ("jsonb", "timestamptz") if pg else ("text", "text")
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {_BARE} (list_id integer, import_id integer, key text, "
            f"data {json_type}, phones {json_type}, tz text, "
            f"created_at {time_type}, updated_at {time_type})"
        )
    now = datetime.now(UTC)
    columns = "list_id, import_id, key, data, phones, tz, created_at, updated_at"
    rows = 0
    started = time.perf_counter()
    with file.open() as source, db.engine.begin() as conn:
        dbapi = conn.connection.driver_connection
        if pg:
            with (
                dbapi.cursor() as cursor,
                cursor.copy(f"COPY {_BARE} ({columns}) FROM STDIN") as copy,
            ):  # type: ignore[union-attr]
                for line in source:
                    key, data, phones, tz = json.loads(line)
                    copy.write_row((1, 1, key, json.dumps(data), json.dumps(phones), tz, now, now))
                    rows += 1
        else:
            stamp = sqlite_timestamp(now)
            cursor = dbapi.cursor()  # type: ignore[union-attr]
            batch: list[tuple[object, ...]] = []
            for line in source:
                key, data, phones, tz = json.loads(line)
                batch.append((1, 1, key, json.dumps(data), json.dumps(phones), tz, stamp, stamp))
                if len(batch) == 5000:
                    cursor.executemany(
                        f"INSERT INTO {_BARE} ({columns}) VALUES (?,?,?,?,?,?,?,?)", batch
                    )
                    rows += len(batch)
                    batch = []
            if batch:
                cursor.executemany(
                    f"INSERT INTO {_BARE} ({columns}) VALUES (?,?,?,?,?,?,?,?)", batch
                )
                rows += len(batch)
    seconds = time.perf_counter() - started
    db.dispose()
    return {"seconds": seconds, "rows": rows}


def _child(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--phase", required=True, choices=["cpu", "import", "storage"])
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--url")
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args(argv)
    if args.phase == "cpu":
        result = phase_cpu(args.file, args.workers)
    elif args.phase == "import":
        result = phase_import(args.file, args.url, args.workers)
    else:
        result = phase_storage(args.file, args.url)
    print("RESULT " + json.dumps(result))


# --- the run ------------------------------------------------------------------------------


def _measure(*args: str) -> tuple[float, int, float]:
    run = run_measured(["-m", "bench.import_bench", "--child", *args])
    line = next(l for l in run.output.splitlines() if l.startswith("RESULT "))  # noqa: E741
    result = json.loads(line.removeprefix("RESULT "))
    return result["seconds"], int(result["rows"]), run.peak_mb


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        _child(argv[1:])
        return
    import os

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 4))
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-record", action="store_true", help="Do not append to RESULTS.md.")
    args = parser.parse_args(argv)

    print(f"generating {args.rows} rows …", flush=True)
    csv_path = generate(args.rows)
    jsonl = normalised(csv_path)
    workers = str(args.workers)
    rows_out: list[list[object]] = []
    verdicts: list[str] = []

    cpu_s, cpu_rows, cpu_mb = _measure(
        "--phase", "cpu", "--file", str(csv_path), "--workers", workers
    )
    rows_out.append(
        [
            "(b) read + normalise, no storage",
            "-",
            f"{cpu_rows / cpu_s:,.0f}",
            f"{cpu_s:.1f}",
            f"{cpu_mb:.0f}",
            "",
        ]
    )
    backends: list[tuple[str, object]] = [("SQLite", lambda: fresh_sqlite("import"))]
    if not args.no_postgres:
        backends.append(("PostgreSQL", fresh_postgres))
    for name, fresh in backends:
        with fresh() as url:  # type: ignore[operator]
            st_s, st_rows, st_mb = _measure(
                "--phase", "storage", "--file", str(jsonl), "--url", url
            )
        with fresh() as url:  # type: ignore[operator]
            im_s, im_rows, im_mb = _measure(
                "--phase", "import", "--file", str(csv_path), "--url", url, "--workers", workers
            )
        floor = min(cpu_rows / cpu_s, st_rows / st_s)
        ratio = (im_rows / im_s) / floor
        rows_out.append(
            [
                "(c) bulk write, bare table",
                name,
                f"{st_rows / st_s:,.0f}",
                f"{st_s:.1f}",
                f"{st_mb:.0f}",
                "",
            ]
        )
        rows_out.append(
            [
                "(a) full import",
                name,
                f"{im_rows / im_s:,.0f}",
                f"{im_s:.1f}",
                f"{im_mb:.0f}",
                f"{ratio:.0%} of slower floor",
            ]
        )
        ok = ratio >= 0.5 and im_mb < 500 and (args.rows < 1_000_000 or im_s < 90)
        verdicts.append(
            f"* {name}: import {im_rows / im_s:,.0f} rows/s = {ratio:.0%} of the slower floor "
            f"({floor:,.0f} rows/s); {im_s:.1f} s; peak {im_mb:.0f} MB — "
            f"{'meets' if ok else 'MISSES'} the targets (≥ 50%, < 500 MB, < 90 s for 1M rows)"
        )
    report = table(["measure", "database", "rows/s", "seconds", "peak MB", "ratio"], rows_out)
    body = f"{args.rows:,} rows, {args.workers} normalising worker(s).\n\n{report}\n\n" + "\n".join(
        verdicts
    )
    print(body)
    if not args.no_record:
        append_results("import_bench", body)


if __name__ == "__main__":
    main(sys.argv[1:])
