"""Users in bulk: a CSV file of users (agents with their queues and skills) created in one
transaction, or none of them.

The file is read and checked first, every row against the file (:mod:`callhopper.domain.
user_rows`) and against the database (roles, queues and skills that exist, user ids and
emails nobody has); any problem refuses the whole file with every problem's line, field
and reason. Passwords are hashed next, before the transaction and on every core, so that a
floor's worth of argon2 hashes does not hold the database's writer. Then one transaction
adds the users, their queue memberships and skills with a statement each, and one audit
entry names every user created.
"""

from __future__ import annotations

from collections import defaultdict
from typing import IO

from callhopper.domain.actors import Actor
from callhopper.domain.user_rows import RowProblem, UserRow, read_user_rows, refuse
from callhopper.domain.users import NewUser, email_key, require_within
from callhopper.ports.clock import Clock
from callhopper.ports.passwords import PasswordHasher
from callhopper.ports.transactions import UnitOfWork


def import_users(
    uow: UnitOfWork, clock: Clock, passwords: PasswordHasher, actor: Actor, stream: IO[bytes]
) -> list[str]:
    """Create every user of the file (see the module), or none; their user ids in order."""
    rows, problems = read_user_rows(stream)
    total = len(rows) + len({p.line for p in problems if p.field == "row"})
    with uow.read() as tx:
        roles = {}
        for name in sorted({r.role for r in rows}):
            role = tx.users.role(name)
            if role is not None:
                require_within(actor, role.rights, f"the role {name!r}")
                roles[name] = role.id
        queues = {n: tx.queues.queue_named(n) for n in sorted({q for r in rows for q in r.queues})}
        skills = {n: tx.skills.skill_named(n) for n in sorted({s for r in rows for s in r.skills})}
        taken_ids, taken_emails = tx.users.taken(
            [r.user_id for r in rows if r.user_id], [email_key(r.email) for r in rows if r.email]
        )
    for row in rows:
        problems += _against_database(row, roles, queues, skills, taken_ids, taken_emails)
    if problems:
        problems.sort(key=lambda p: p.line)
        raise refuse(problems, total)
    with_password = [r for r in rows if r.password is not None]
    hashes = dict(
        zip(
            (r.line for r in with_password),
            passwords.hash_many([r.password for r in with_password if r.password is not None]),
            strict=True,
        )
    )
    now = clock.now()
    with uow.write() as tx:
        ids = tx.users.add_users(
            [
                NewUser(
                    user_id=r.user_id,
                    email=r.email,
                    display_name=r.display_name,
                    role_id=roles[r.role],
                    password_hash=hashes.get(r.line),
                )
                for r in rows
            ],
            now=now,
        )
        members: dict[int, list[int]] = defaultdict(list)
        holders: list[tuple[int, int]] = []
        for row in rows:
            for name in row.queues:
                queue_id = queues[name]
                assert queue_id is not None  # checked above
                members[queue_id].append(ids[row.user_id])
            for name in row.skills:
                skill_id = skills[name]
                assert skill_id is not None  # checked above
                holders.append((ids[row.user_id], skill_id))
        for queue_id, user_ids in members.items():
            tx.queues.add_members(queue_id, user_ids, now=now)
        tx.skills.add_holders(holders)
        tx.audit.add(
            actor,
            "user.import",
            "user",
            f"{len(rows)} users",
            now=now,
            after={
                "users": [r.user_id for r in rows],
                "with_password": len(with_password),
                "queues": sorted(queues),
                "skills": sorted(skills),
            },
        )
    return [r.user_id for r in rows]


def _against_database(
    row: UserRow,
    roles: dict[str, int],
    queues: dict[str, int | None],
    skills: dict[str, int | None],
    taken_ids: set[str],
    taken_emails: set[str],
) -> list[RowProblem]:
    found = []
    if row.user_id in taken_ids:
        found.append(RowProblem(row.line, "user_id", f"user_id {row.user_id!r} is taken"))
    if row.email and email_key(row.email) in taken_emails:
        found.append(RowProblem(row.line, "email", f"a user with email {row.email!r} exists"))
    if row.role not in roles:
        found.append(RowProblem(row.line, "role", f"no role named {row.role!r}"))
    found += [
        RowProblem(row.line, "queues", f"no queue named {name!r}")
        for name in row.queues
        if queues[name] is None
    ]
    found += [
        RowProblem(row.line, "skills", f"no skill named {name!r}")
        for name in row.skills
        if skills[name] is None
    ]
    return found
