"""Users in bulk: the rows of a CSV file of users, checked one by one.

The header names the columns, in any order: ``email`` (required), ``user_id``,
``display_name``, ``role`` (default ``agent``), ``password`` (empty: the user signs in with
API tokens until one is set), ``queues`` and ``skills`` (names, separated by ``|``). Every
problem is reported with its line, its field and why; a file with any problem creates
nobody (the import is one transaction).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO, Any

from callhopper.domain.csvtext import numbered_rows, open_text, read_header
from callhopper.domain.errors import InvalidInput
from callhopper.domain.users import (
    check_email,
    check_password,
    check_user_id,
    email_key,
    new_user_id,
)

COLUMNS = ("email", "user_id", "display_name", "role", "password", "queues", "skills")
#: The separator of the names in the ``queues`` and ``skills`` columns.
NAME_SEPARATOR = "|"
#: A report names at most this many problems (and how many more there were).
MAX_PROBLEMS = 1000


@dataclass(frozen=True, slots=True)
class UserRow:
    """One user of the file, checked as far as the file alone allows."""

    line: int
    user_id: str
    email: str
    display_name: str
    role: str
    password: str | None
    queues: tuple[str, ...]
    skills: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    field: str
    message: str

    def view(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


def read_user_rows(stream: IO[bytes]) -> tuple[list[UserRow], list[RowProblem]]:
    """The users of a CSV byte stream, and every problem found in it (a user id or email
    twice in the file is one, at its second line). A row with problems is among the users
    too (a value it got wrong is empty), so that its other fields are checked against the
    database as well; a row of the wrong length is not."""
    text = open_text(stream)
    try:
        return _read(text)
    finally:
        text.detach()  # the caller closes the stream


def _read(text: io.TextIOBase) -> tuple[list[UserRow], list[RowProblem]]:
    delimiter, header = read_header(text)
    names = [h.strip().lower() for h in header]
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise InvalidInput(
            f"line 1: unknown column(s) {', '.join(map(repr, unknown))}; a users file has "
            f"the columns {', '.join(COLUMNS)}",
            field="header",
        )
    if "email" not in names:
        raise InvalidInput("line 1: the column 'email' is required", field="header")
    rows: list[UserRow] = []
    problems: list[RowProblem] = []
    seen_ids: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    for line, fields in numbered_rows(text, delimiter):
        if len(fields) != len(names):
            problems.append(
                RowProblem(line, "row", f"{len(fields)} fields where the header has {len(names)}")
            )
            continue
        values = {n: v.strip() for n, v in zip(names, fields, strict=True)}
        found: list[RowProblem] = []
        email = _checked(found, line, "email", check_email, values["email"])
        given_id = values.get("user_id", "")
        user_id = _checked(found, line, "user_id", check_user_id, given_id) if given_id else ""
        password = values.get("password") or None
        if password is not None:
            _checked(found, line, "password", check_password, password)
        for field, value, seen in (
            ("email", email_key(email), seen_emails),
            ("user_id", user_id, seen_ids),
        ):
            if value and value in seen:
                found.append(RowProblem(line, field, f"{value!r} is on line {seen[value]} too"))
            elif value:
                seen[value] = line
        problems += found
        rows.append(
            UserRow(
                line=line,
                # a user id given but wrong stays empty: nobody else's is checked for it
                user_id=user_id or ("" if given_id else new_user_id()),
                email=email,
                display_name=values.get("display_name") or email,
                role=values.get("role") or "agent",
                password=password,
                queues=_names(values.get("queues", "")),
                skills=_names(values.get("skills", "")),
            )
        )
    if not rows and not problems:
        raise InvalidInput("the file has no users: only a header row", field="file")
    return rows, problems


def _checked(found: list[RowProblem], line: int, field: str, check: Any, value: str) -> str:
    """``check(value)``, or ``""`` with the problem noted."""
    try:
        return str(check(value))
    except InvalidInput as exc:
        found.append(RowProblem(line, field, exc.message))
        return ""


def _names(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n.strip() for n in value.split(NAME_SEPARATOR) if n.strip()))


def refuse(problems: list[RowProblem], total_rows: int) -> InvalidInput:
    """The error of a file with problems: nothing was created."""
    shown = problems[:MAX_PROBLEMS]
    more = len(problems) - len(shown)
    lines = len({p.line for p in problems})
    return InvalidInput(
        f"{lines} of {total_rows} row(s) have problems: no user was created"
        + (f" ({more} more problems not listed)" if more else ""),
        field="file",
        problems=[p.view() for p in shown],
    )
