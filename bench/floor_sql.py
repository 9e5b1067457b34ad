"""The statements of the bare floor: the product's own claim, call and release, as it sends
them to the driver, captured once and replayed through the raw driver.

:func:`capture` runs the store's claim (``callhopper.store.claims.statements.claim``), the
call's writes (``SqlRecords.add_call``, ``dispensing.dialled``) and the release of the
record (``dispensing.release``, final) for one agent in a transaction it rolls back, and
records every SQL text the engine sends with its parameters. Each parameter is then named
by its role (the agent, the record, now, the lease's end) or kept as the value it had, so
that the bare floor (:mod:`bench.floor_app`) and ``pgbench`` (:func:`pgbench_script`) send
the very statements the product sends, whatever the store's code becomes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

#: The steps of one cycle, in order.
STEPS = ("get_record", "call", "done")
#: A parameter given per request: its role (see :func:`bind`).
ROLE = "$role"
#: The time zone of every bench record (the claim's open zones).
ZONES = ["America/Phoenix"]
#: How long a lease runs from a claim, in the floor as in the bench's campaigns.
LEASE = timedelta(minutes=30)
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


@dataclass(frozen=True)
class Statement:
    sql: str
    #: Parameter name → a plain value, or ``{ROLE: "agent" | "record" | "now" | "until"}``.
    params: dict[str, Any]


Cycle = dict[str, list[Statement]]


def capture(url: str, campaign_id: int, agent_id: int) -> Cycle:
    """The statements of claim, call and release for ``agent_id`` (rolled back)."""
    from callhopper.store import dispensing
    from callhopper.store.claims import statements as claims
    from callhopper.store.records import SqlRecords

    sqlite = url.startswith("sqlite")
    # Named parameters on SQLite too (``:name``), which its driver takes as a dict.
    engine = create_engine(url, **({"paramstyle": "named"} if sqlite else {}))
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, _many: bool) -> None:
        sent.append((sql, params))

    event.listen(engine, "before_cursor_execute", record)
    now = datetime.now(UTC).replace(microsecond=123457)
    until = now + LEASE
    cycle: Cycle = {}
    with Session(engine) as session:
        request = claims.ClaimRequest(
            campaign_id=campaign_id,
            agent_id=agent_id,
            owned=True,
            now=now,
            lease_until=until,
            zones=ZONES,
            pass_no=1,
        )
        record_id = claims.claim(session, request)
        if record_id is None:
            raise SystemExit(f"agent {agent_id} has no record to claim: nothing to capture")
        cycle["get_record"], sent[:] = _named(sent, sqlite, now, until, agent_id, record_id), []
        SqlRecords(session).add_call(
            campaign_id=campaign_id,
            campaign_name="bench",
            record_id=record_id,
            agent_id=agent_id,
            number="+16022000000",
            caller_id=None,
            note="",
            now=now,
        )
        dispensing.dialled(session, campaign_id, record_id, agent_id, now, until)
        cycle["call"], sent[:] = _named(sent, sqlite, now, until, agent_id, record_id), []
        dispensing.release(session, campaign_id, record_id, agent_id, status="final")
        cycle["done"] = _named(sent, sqlite, now, until, agent_id, record_id)
        session.rollback()
    engine.dispose()
    return cycle


def _named(
    sent: list[tuple[str, Any]],
    sqlite: bool,
    now: datetime,
    until: datetime,
    agent_id: int,
    record_id: int,
) -> list[Statement]:
    times = {_driver_time(now, sqlite): "now", _driver_time(until, sqlite): "until"}
    statements = []
    for sql, params in sent:
        if sql.strip().upper() in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"):
            continue
        named: dict[str, Any] = {}
        for key, value in dict(params).items():
            role = None
            if isinstance(value, str | datetime) and value in times:
                role = times[value]
            elif key == "agent" and value == agent_id:
                role = "agent"
            elif "record" in key and value == record_id:
                role = "record"
            named[key] = {ROLE: role} if role else value
        statements.append(Statement(sql, named))
    return statements


def _driver_time(value: datetime, sqlite: bool) -> Any:
    """A time as the product hands it to the driver: naive UTC text on SQLite."""
    return value.astimezone(UTC).strftime(SQLITE_TIME) if sqlite else value


def bind(statement: Statement, sqlite: bool, **values: Any) -> dict[str, Any]:
    """The statement's parameters for one request: ``values`` by role (``agent``,
    ``record``, ``now``; ``until`` is now + the lease)."""
    now = values.get("now") or datetime.now(UTC)
    roles = {**values, "now": _driver_time(now, sqlite), "until": _driver_time(now + LEASE, sqlite)}
    return {
        key: roles[value[ROLE]] if isinstance(value, dict) and ROLE in value else value
        for key, value in statement.params.items()
    }


def save(cycle: Cycle, path: Path) -> None:
    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    path.write_text(
        json.dumps(
            {
                step: [
                    {"sql": s.sql, "params": {k: plain(v) for k, v in s.params.items()}}
                    for s in statements
                ]
                for step, statements in cycle.items()
            }
        )
    )


def load(path: Path) -> Cycle:
    raw = json.loads(path.read_text())
    return {step: [Statement(s["sql"], s["params"]) for s in raw[step]] for step in STEPS}


# --- pgbench -----------------------------------------------------------------------------------

_PARAM = re.compile(r"%\((\w+)\)s")
_COMMENT = re.compile(r"--[^\n]*")


def pgbench_script(cycle: Cycle) -> str:
    """The claim, call and release as a pgbench script (for 8 clients): a random agent of
    ``:agents`` (set by ``-D agents=N``) among the client's own, the claimed record kept
    with ``\\gset``; now and the lease's end computed by PostgreSQL."""
    # each client its own agents (one lease per agent): client_id + 1, + 8, + 16, …
    lines = ["\\set agent 1 + :client_id + 8 * random(0, :agents / 8 - 1)"]
    for step in STEPS:
        for number, statement in enumerate(cycle[step]):
            bare = _COMMENT.sub("", statement.sql)  # one line: a comment would hide the rest
            sql = " ".join(_PARAM.sub(partial(_literal, statement), bare).split())
            if step == "get_record" and number == len(cycle[step]) - 1:
                sql += " \\gset"
            lines.append(sql + ("" if sql.endswith("\\gset") else ";"))
    return "\n".join(lines) + "\n"


def _literal(statement: Statement, match: re.Match[str]) -> str:
    value = statement.params[match.group(1)]
    if isinstance(value, dict) and ROLE in value:
        return {
            "agent": ":agent",
            "record": ":record_id",
            "now": "now()",
            "until": f"(now() + interval '{int(LEASE.total_seconds())} seconds')",
        }[value[ROLE]]
    if value is None:
        return "NULL"
    if isinstance(value, list):
        return "'{" + ",".join(value) + "}'"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"
