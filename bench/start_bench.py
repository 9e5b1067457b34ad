"""Campaign start and recycle of a large list, against a hand-written bulk statement.

    python -m bench.start_bench [--agents 10000] [--records 1000000]
                                [--no-postgres] [--no-sqlite] [--no-record]

One agent-owned list of ``--records`` records owned by ``--agents`` agents (the data of
``dispense_bench``), sorted by a number column. For each database, in one run:

* **hand-written start**: one ``INSERT … SELECT`` that does what a start must (every
  record of the list into a second campaign, its owner resolved by a join on the users of
  the queue, its rank by ``row_number()`` in the campaign's order), written in the order
  of the record ids as the start writes them, with the start's ``work_mem`` and without
  JIT, then ``ANALYZE`` on PostgreSQL as the start does;
* **campaign start**: the product's start of the first campaign (``change_state``, its
  snapshots and everything else a start does, committed);
* **recycle**, then its **hand-written** counterpart: one ``UPDATE … FROM`` that resets
  every record of the second campaign from the same snapshot, in the order of the record
  ids as the recycle reads its snapshot. Before them every ready
  record of both campaigns is set ``waiting`` (called once, no answer), as a pass leaves
  them, so that both set every record ready again.

Targets (issue 23): the start within twice the hand-written statement, and under 10 s on
PostgreSQL, for 1,000,000 records.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime

from sqlalchemy import bindparam, text

from bench.common import append_results, chosen_databases, table
from bench.dispense_bench import campaign_spec, setup

# The snapshot as a person would write it: the owner value joined with the queue's active
# agents (by user id), the rank in the campaign's order (balance, highest first).
_SNAPSHOT = {
    "postgresql": """
        SELECT r.id AS record_id, r.tz, m.id AS agent_id,
               row_number() OVER (
                   ORDER BY CAST(r.data->>'balance' AS double precision) DESC NULLS LAST, r.id
               ) AS rank
        FROM records AS r
        LEFT JOIN (SELECT u.id, u.user_id FROM users AS u
                   JOIN queue_members AS q ON q.user_id = u.id AND q.queue_id = :queue
                   WHERE u.active) AS m ON m.user_id = r.data->>'agent'
        WHERE r.list_id = :list""",
    "sqlite": """
        SELECT r.id AS record_id, r.tz, m.id AS agent_id,
               row_number() OVER (
                   ORDER BY CAST(json_extract(r.data, '$.balance') AS REAL) DESC NULLS LAST, r.id
               ) AS rank
        FROM records AS r
        LEFT JOIN (SELECT u.id, u.user_id FROM users AS u
                   JOIN queue_members AS q ON q.user_id = u.id AND q.queue_id = :queue
                   WHERE u.active) AS m ON m.user_id = json_extract(r.data, '$.agent')
        WHERE r.list_id = :list""",
}
_INSERT = """
    INSERT INTO campaign_records
        (campaign_id, record_id, status, agent_id, error, rank, tz, attempts)
    SELECT :campaign, s.record_id,
           CASE WHEN s.agent_id IS NULL THEN 'error' ELSE 'ready' END,
           s.agent_id, CASE WHEN s.agent_id IS NULL THEN 'unknown_agent' END,
           s.rank, s.tz, 0
    FROM ({snapshot}) AS s
    ORDER BY s.record_id"""
_UPDATE = """
    UPDATE campaign_records SET
        status = CASE WHEN s.agent_id IS NULL THEN 'error' ELSE 'ready' END,
        agent_id = s.agent_id,
        error = CASE WHEN s.agent_id IS NULL THEN 'unknown_agent' END,
        rank = s.rank, tz = s.tz, retry_at = NULL, lease_agent_id = NULL,
        lease_expires_at = NULL, pending = NULL, blocked_until = NULL
    FROM ({snapshot} ORDER BY r.id) AS s
    WHERE campaign_records.campaign_id = :campaign AND campaign_records.record_id = s.record_id"""


def second_campaign(url: str, first: int) -> tuple[int, int, int]:
    """A copy of the first campaign (not started), for the hand-written statements;
    returns (its id, the list, the queue)."""
    from callhopper.core import campaigns as core_campaigns
    from callhopper.domain.actors import SYSTEM
    from callhopper.store.db import Database
    from callhopper.store.uow import SqlTransaction

    db = Database(url)
    with db.write() as session:
        found = session.execute(
            text("SELECT list_id, queue_id FROM campaigns WHERE id = :id"), {"id": first}
        ).one()
        list_id, queue_id = int(found[0]), int(found[1])
        copy = core_campaigns.create_campaign(
            SqlTransaction(session),
            SYSTEM,
            campaign_spec("hand-written", list_id, queue_id),
            now=datetime.now(UTC),
        )
    db.dispose()
    return copy.id, list_id, queue_id


def end_pass(url: str, campaign_ids: tuple[int, ...]) -> None:
    """Every ready record of the campaigns called once without an answer (not timed): what a
    recycle then finds after a pass, so that it has every record to set ready again."""
    from callhopper.store.db import Database

    db = Database(url)
    with db.write() as session:
        session.execute(
            text(
                "UPDATE campaign_records SET status = 'waiting', attempts = 1, "
                "handled_pass = 1 WHERE status = 'ready' AND campaign_id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {"ids": list(campaign_ids)},
        )
    db.dispose()


def timed_sql(url: str, sql: str, params: dict[str, int]) -> float:
    """Seconds to run one statement and commit (on PostgreSQL with the start's memory to sort
    in, then ANALYZE, as a start)."""
    from callhopper.store.db import Database
    from callhopper.store.snapshots import SNAPSHOT_WORK_MEM_MB

    db = Database(url)
    began = time.perf_counter()
    with db.write() as session:
        if db.dialect == "postgresql":
            session.execute(
                text("SELECT set_config('work_mem', :mem, true), set_config('jit', 'off', true)"),
                {"mem": f"{SNAPSHOT_WORK_MEM_MB}MB"},
            )
        session.execute(text(sql), params)
        if db.dialect == "postgresql":
            session.execute(text("ANALYZE campaign_records"))
    seconds = time.perf_counter() - began
    db.dispose()
    return seconds


def timed_action(url: str, campaign_id: int, action: str) -> float:
    """Seconds the product takes to start or recycle the campaign, committed."""
    from callhopper.core import campaigns as core_campaigns
    from callhopper.domain.actors import SYSTEM
    from callhopper.domain.campaigns import CampaignAction
    from callhopper.store.db import Database
    from callhopper.store.uow import SqlTransaction

    db = Database(url)
    began = time.perf_counter()
    with db.write() as session:
        core_campaigns.change_state(
            SqlTransaction(session),
            SYSTEM,
            campaign_id,
            CampaignAction(action),
            now=datetime.now(UTC),
        )
    seconds = time.perf_counter() - began
    db.dispose()
    return seconds


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    load = f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    backends = chosen_databases(args, "start")
    rows: list[list[object]] = []
    for name, fresh in backends:
        with fresh() as url:
            print(f"{name}: {args.records:,} records, {args.agents:,} agents …", flush=True)
            campaign_id, _ = setup(url, args.agents, args.records, start=False)
            copy_id, list_id, queue_id = second_campaign(url, campaign_id)
            dialect = "postgresql" if url.startswith("postgresql") else "sqlite"
            params = {"campaign": copy_id, "list": list_id, "queue": queue_id}
            snapshot = _SNAPSHOT[dialect]
            bare_start = timed_sql(url, _INSERT.format(snapshot=snapshot), params)
            start = timed_action(url, campaign_id, "start")
            end_pass(url, (campaign_id, copy_id))
            recycle = timed_action(url, campaign_id, "recycle")
            bare_recycle = timed_sql(url, _UPDATE.format(snapshot=snapshot), params)
            for measure, product, bare in (
                ("start", start, bare_start),
                ("recycle", recycle, bare_recycle),
            ):
                rows.append(
                    [name, measure, f"{product:.1f}", f"{bare:.1f}", f"{product / bare:.2f}x"]
                )
            print(table(["database", "measure", "product s", "hand-written s", "ratio"], rows[-2:]))
    headers = ["database", "measure", "product s", "hand-written s", "ratio"]
    body = (
        f"`python -m bench.start_bench {' '.join(argv)}`".replace(" `", "`")
        + f"\n\n{args.records:,} records owned by {args.agents:,} agents, sorted by a number "
        f"column (load average before the run: {load}).\n\n" + table(headers, rows)
    )
    print(body)
    if not args.no_record:
        append_results("start_bench", body)


if __name__ == "__main__":
    main(sys.argv[1:])
