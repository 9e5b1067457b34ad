"""Skills over stored records: SQL selection equals Python evaluation, with @ properties."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from callhopper.domain.contacts import filter_values
from callhopper.domain.filters import evaluate, parse_filter
from callhopper.store.db import Database
from callhopper.store.models import Record, User
from callhopper.store.record_filters import record_filter
from tests.support import MakeUser

#: filter → how many of the six records it selects
FILTERS = {
    'state == "AZ"': 3,
    "balance >= 100 and balance < 1000": 2,
    '@owner empty or state in ("CA", "NV")': 5,
    '@timezone == "America/Phoenix" and `last name` not empty': 2,
    "@owner not empty": 2,
    'state != "AZ" and balance != 5': 2,
}


def test_skills_select_the_same_records_in_sql_and_python(
    api: TestClient, db: Database, make_user: MakeUser
) -> None:
    agent = make_user("agent")
    contact_list = api.post(
        "/api/v1/contact-lists",
        json={
            "name": "L",
            "columns": ["phone", "state", "balance", "last name"],
            "phone_columns": ["phone"],
            "timezone_source": {"kind": "us_state", "column": "state"},
        },
    ).json()
    rows = [
        {
            "phone": f"(602) 234-{5600 + n:04d}",
            "state": state,
            "balance": balance,
            "last name": last,
        }
        for n, (state, balance, last) in enumerate(
            [
                ("AZ", "50", "Lee"),
                ("CA", "150", ""),
                ("NV", "abc", "Ng"),
                ("AZ", "999.5", ""),
                ("TX", "5", "Ono"),
                ("AZ", "1000", "Roe"),
            ]
        )
    ]
    api.post(f"/api/v1/contact-lists/{contact_list['id']}/records", json={"records": rows})
    with db.write() as session:
        owner_id = session.scalar(select(User.id).where(User.user_id == agent.user_id))
        first_two = session.scalars(select(Record.id).order_by(Record.id).limit(2)).all()
        session.execute(update(Record).where(Record.id.in_(first_two)).values(owner_id=owner_id))
    with db.read() as session:
        records = session.scalars(select(Record)).all()
        owners = {r.id: agent.user_id if r.owner_id else None for r in records}
        for text, count in FILTERS.items():
            parsed = parse_filter(text)
            in_sql = set(session.scalars(select(Record.id).where(record_filter(parsed))))
            in_python = {
                r.id
                for r in records
                if evaluate(parsed, filter_values(r.data, tz=r.tz, owner=owners[r.id]))
            }
            assert in_sql == in_python, text
            assert len(in_sql) == count, text


@pytest.mark.parametrize("expression", ["@colour == 'red'", "@owner == 'x' or @nope empty"])
def test_unknown_properties_are_refused(api: TestClient, expression: str) -> None:
    response = api.post("/api/v1/skills", json={"name": "x", "expression": expression})
    assert response.status_code == 422
    assert "unknown record propert" in response.json()["error"]["message"]
