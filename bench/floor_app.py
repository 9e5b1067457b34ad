"""The bare floor: a minimal ASGI app on the product's server stack (uvicorn) that runs the
product's claim, call and release statements (:mod:`bench.floor_sql`) through the raw
driver, with no framework work beyond routing: no authentication, no validation, no
ORM, no events, no audit.

    POST /get-record/{agent}          → {"record_id": n} (null: nothing left)
    POST /call/{agent}/{record}       → {}
    POST /done/{agent}/{record}       → {}

Run by :mod:`bench.open_loop` as ``uvicorn bench.floor_app:app`` with
``BENCH_FLOOR_URL`` (the database's SQLAlchemy URL), ``BENCH_FLOOR_SQL`` (the captured
statements) and ``BENCH_FLOOR_POOL`` (PostgreSQL connections, like the product's pool).
On PostgreSQL each request takes a connection of an async psycopg pool; on SQLite one
connection runs every request on the event loop, inside ``BEGIN IMMEDIATE`` (one writer
at a time is all SQLite has).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from bench.floor_sql import STEPS, Cycle, bind, load

Scope = dict[str, Any]


class Floor:
    def __init__(self) -> None:
        self.url = os.environ["BENCH_FLOOR_URL"]
        self.cycle: Cycle = load(Path(os.environ["BENCH_FLOOR_SQL"]))
        self.sqlite = self.url.startswith("sqlite")
        self.pool_size = int(os.environ.get("BENCH_FLOOR_POOL", "20"))
        self._pool: asyncio.Queue[Any] | None = None
        self._lite: sqlite3.Connection | None = None

    async def start(self) -> None:
        if self.sqlite:
            self._lite = sqlite3.connect(
                self.url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
            )
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
                self._lite.execute(f"PRAGMA {pragma}")
            return
        import psycopg

        dsn = self.url.replace("postgresql+psycopg://", "postgresql://")
        self._pool = asyncio.Queue()
        for _ in range(self.pool_size):
            self._pool.put_nowait(await psycopg.AsyncConnection.connect(dsn))

    async def run(self, step: str, agent: int, record: int | None) -> int | None:
        """Run one step's statements in one transaction; the claim's record id."""
        statements = self.cycle[step]
        if self._lite is not None:
            lite = self._lite
            lite.execute("BEGIN IMMEDIATE")
            try:
                found = None
                for statement in statements:
                    params = bind(statement, True, agent=agent, record=record)
                    row = lite.execute(statement.sql, params).fetchone()
                    if row is not None and step == "get_record" and found is None:
                        found = record = int(row[0])
                lite.execute("COMMIT")
            except BaseException:
                lite.execute("ROLLBACK")
                raise
            return found
        assert self._pool is not None
        conn = await self._pool.get()
        try:
            async with conn.transaction():
                found = None
                for statement in statements:
                    params = bind(statement, False, agent=agent, record=record)
                    cursor = await conn.execute(statement.sql, params)
                    if step == "get_record" and found is None and cursor.description:
                        row = await cursor.fetchone()
                        if row is not None:
                            found = record = int(row[0])
            return found
        finally:
            self._pool.put_nowait(conn)


floor = Floor()


async def app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await floor.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    parts = scope["path"].strip("/").split("/")
    status, body = 404, b"{}"
    if scope["method"] == "GET" and parts == ["healthz"]:
        status = 200
    elif scope["method"] == "POST" and parts[0].replace("-", "_") in STEPS:
        step = parts[0].replace("-", "_")
        record = int(parts[2]) if len(parts) > 2 else None
        found = await floor.run(step, int(parts[1]), record)
        status = 200
        body = json.dumps({"record_id": found} if step == "get_record" else {}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
