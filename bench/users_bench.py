"""Setting up a floor: users in bulk from a CSV file, through the command line and the API,
beside a hand-written bulk insert of the same rows in the same run.

    python -m bench.users_bench [--users 10000] [--passwords 200]
                                [--no-postgres] [--no-sqlite] [--no-record]

For each database, three files of ``--users`` agents (each in two of four queues, with one
of three skills, no password) are created:

* **CLI**: ``callhopper users import FILE``, as a process, timed from start to exit;
* **API**: ``POST /api/v1/users/import`` to one ``callhopper serve`` process;
* **hand-written**: the same rows inserted by this process with one multi-row ``INSERT``
  per table (users, queue members, skills), in one transaction: the floor.

Then ``--passwords`` agents with passwords through the API, to show what the argon2 hashes
cost (made in one process per core before the transaction).

Target (issue 23): 10,000 agents created in bulk in under 30 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import insert, text

from bench.common import DATA_DIR, append_results, chosen_databases, serve, table

QUEUES = ("Floor A", "Floor B", "Floor C", "Floor D")
SKILLS = ("Spanish", "French", "Retention")


def csv_file(tag: str, users: int, *, passwords: bool = False) -> Path:
    """A users file: ``users`` agents ``<tag>N``."""
    DATA_DIR.mkdir(exist_ok=True)
    path = DATA_DIR / f"users_{tag}.csv"
    lines = ["email,user_id,display_name,password,queues,skills"]
    for n in range(users):
        queues = f"{QUEUES[n % 4]}|{QUEUES[(n + 1) % 4]}"
        password = f"secret-{n:06d}" if passwords else ""
        lines.append(
            f"{tag}{n}@floor.test,{tag}{n},Agent {tag}{n},{password},{queues},{SKILLS[n % 3]}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def floor(url: str) -> str:
    """Queues, skills and an admin; returns the admin's API token."""
    from callhopper.clock import SystemClock
    from callhopper.core.queues import QueueService
    from callhopper.core.users import UserService
    from callhopper.domain.actors import SYSTEM
    from callhopper.security import Argon2PasswordHasher
    from callhopper.store.db import Database
    from callhopper.store.migrate import ensure_schema
    from callhopper.store.uow import SqlUnitOfWork

    db = Database(url)
    ensure_schema(db)
    uow, clock = SqlUnitOfWork(db), SystemClock()
    queues = QueueService(uow, clock)
    for name in QUEUES:
        queues.create_queue(SYSTEM, name=name)
    for name in SKILLS:
        queues.create_skill(SYSTEM, name=name, expression=f"skill == '{name}'")
    users = UserService(uow, clock, Argon2PasswordHasher())
    users.create_user(SYSTEM, email="boss@floor.test", role="admin", user_id="boss")
    token = users.create_token(SYSTEM, "boss", "bench").secret
    db.dispose()
    return token


def hand_written(url: str, tag: str, count: int) -> float:
    """The same users, memberships and skills, inserted directly; seconds."""
    from callhopper.store.db import Database
    from callhopper.store.models import QueueMember, User, UserSkill

    db = Database(url)
    now = datetime.now(UTC)
    began = time.perf_counter()
    with db.write() as session:
        role = session.scalar(text("SELECT id FROM roles WHERE name = 'agent'"))
        queue_ids = dict(session.execute(text("SELECT name, id FROM queues")).all())
        skill_ids = dict(session.execute(text("SELECT name, id FROM skills")).all())
        ids = session.scalars(
            insert(User).returning(User.id, sort_by_parameter_order=True),
            [
                {
                    "user_id": f"{tag}{n}",
                    "email": f"{tag}{n}@floor.test",
                    "email_key": f"{tag}{n}@floor.test",
                    "display_name": f"Agent {tag}{n}",
                    "role_id": role,
                    "active": True,
                    "created_at": now,
                }
                for n in range(count)
            ],
        ).all()
        members = [
            {"queue_id": queue_ids[QUEUES[(n + k) % 4]], "user_id": id_, "added_at": now}
            for n, id_ in enumerate(ids)
            for k in (0, 1)
        ]
        session.execute(insert(QueueMember), members)
        session.execute(
            insert(UserSkill),
            [{"user_id": id_, "skill_id": skill_ids[SKILLS[n % 3]]} for n, id_ in enumerate(ids)],
        )
    seconds = time.perf_counter() - began
    db.dispose()
    return seconds


def cli(url: str, path: Path) -> float:
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "callhopper.cli", "users", "import", str(path)],
        env={**os.environ, "CALLHOPPER_DATABASE_URL": url},
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - began


def api(base: str, token: str, path: Path) -> float:
    began = time.perf_counter()
    response = httpx.post(
        f"{base}/api/v1/users/import",
        content=path.read_bytes(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
        timeout=600,
    )
    seconds = time.perf_counter() - began
    assert response.status_code == 201, response.text[:500]
    return seconds


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--passwords", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    load = f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    backends = chosen_databases(args, "users")
    rows: list[list[object]] = []
    for name, fresh in backends:
        with fresh() as url:
            print(f"{name}: {args.users:,} agents …", flush=True)
            token = floor(url)
            bare = hand_written(url, "h", args.users)
            by_cli = cli(url, csv_file("c", args.users))
            with serve(url, f"users_{name.lower()}.log") as base:
                by_api = api(base, token, csv_file("a", args.users))
                hashed = api(base, token, csv_file("p", args.passwords, passwords=True))
            n = f"{args.users:,}"
            rows += [
                [name, f"hand-written bulk insert, {n} agents", f"{bare:.1f}", "1.00x"],
                [
                    name,
                    f"`users import` (CLI), {n} agents",
                    f"{by_cli:.1f}",
                    f"{by_cli / bare:.2f}x",
                ],
                [
                    name,
                    f"`POST /users/import`, {n} agents",
                    f"{by_api:.1f}",
                    f"{by_api / bare:.2f}x",
                ],
                [
                    name,
                    f"`POST /users/import`, {args.passwords:,} agents with passwords",
                    f"{hashed:.1f}",
                    f"{hashed / args.passwords * 1000:.0f} ms a user",
                ],
            ]
            print(table(["database", "measure", "s", "ratio"], rows[-4:]), flush=True)
    body = (
        f"`python -m bench.users_bench {' '.join(argv)}`".replace(" `", "`")
        + f"\n\nAgents in two of four queues with one of three skills (load average before "
        f"the run: {load}).\n\n" + table(["database", "measure", "s", "ratio"], rows)
    )
    print(body)
    if not args.no_record:
        append_results("users_bench", body)


if __name__ == "__main__":
    main(sys.argv[1:])
