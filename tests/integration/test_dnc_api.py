"""Do-not-call lists through the API and the store, on SQLite and PostgreSQL (SPEC §4.5)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, insert, select, text

from callhopper.api.app import create_app
from callhopper.clock import FrozenClock
from callhopper.core.dnc import DncService
from callhopper.domain.actors import SYSTEM
from callhopper.domain.errors import Conflict, InvalidInput
from callhopper.settings import Settings
from callhopper.store import dnc
from callhopper.store.db import Database
from callhopper.store.models import DncList, DncNumber
from callhopper.store.uow import SqlUnitOfWork
from tests.campaign_helpers import agents, make_campaign, make_list, make_queue, owned_rows, phone
from tests.support import MakeUser, Person

API = "/api/v1"


def e164(n: int) -> str:
    """The E.164 form of :func:`tests.campaign_helpers.phone`."""
    return f"+1602{200 + n // 10000:03d}{n % 10000:04d}"


def dnc_service(db: Database, clock: FrozenClock) -> DncService:
    return DncService(SqlUnitOfWork(db), clock, default_region="US", import_batch_rows=5000)


@pytest.fixture
def dnc_client(settings: Settings, db: Database, clock: FrozenClock) -> Iterator[TestClient]:
    """A client of the app, without credentials."""
    app = create_app(settings, db, clock)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def api(dnc_client: TestClient, admin: Person) -> TestClient:
    dnc_client.headers.update(admin.headers)
    return dnc_client


def create(api: TestClient, name: str = "National", **extra: Any) -> dict[str, Any]:
    response = api.post(f"{API}/dnc-lists", json={"name": name, **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


def add(api: TestClient, list_id: int, numbers: list[str], **extra: Any) -> dict[str, Any]:
    response = api.post(f"{API}/dnc-lists/{list_id}/numbers", json={"numbers": numbers, **extra})
    assert response.status_code == 200, response.text
    return dict(response.json())


def post_csv(api: TestClient, list_id: int, content: bytes, **params: str) -> Any:
    return api.post(
        f"{API}/dnc-lists/{list_id}/imports",
        content=content,
        headers={"Content-Type": "text/csv"},
        params=params,
    )


def all_numbers(api: TestClient, list_id: int) -> list[str]:
    response = api.get(f"{API}/dnc-lists/{list_id}/numbers", params={"limit": 10000})
    assert response.status_code == 200, response.text
    return [n["number"] for n in response.json()["numbers"]]


def campaign(api: TestClient, make_user: MakeUser, name: str = "Collections") -> int:
    list_id = make_list(api, owned_rows(["alice"]), name=f"{name} accounts")
    queue_id = make_queue(api, agents(make_user, f"{name.lower()}-agent"), name=f"{name} team")
    return make_campaign(api, list_id, queue_id, name=name)


def actions(api: TestClient, prefix: str) -> list[str]:
    entries = api.get(f"{API}/audit", params={"action": prefix, "limit": 1000}).json()
    return [e["action"] for e in reversed(entries)]


# --- lists -------------------------------------------------------------------------------------


def test_list_crud_is_audited(api: TestClient) -> None:
    created = create(api, description="the national registry")
    assert created["name"] == "National"
    assert created["number_count"] == 0
    assert created["campaign_id"] is None
    assert created["campaign_ids"] == []

    duplicate = api.post(f"{API}/dnc-lists", json={"name": "National"})
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "already_exists"
    assert duplicate.json()["error"]["details"] == {"field": "name"}
    empty = api.post(f"{API}/dnc-lists", json={"name": "  "})
    assert empty.status_code == 422
    assert empty.json()["error"]["details"] == {"field": "name"}

    other = create(api, "Internal")
    taken = api.patch(f"{API}/dnc-lists/{other['id']}", json={"name": "National"})
    assert taken.status_code == 409
    renamed = api.patch(f"{API}/dnc-lists/{other['id']}", json={"name": "Internal opt-outs"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Internal opt-outs"

    add(api, created["id"], [phone(1), phone(2)])
    listed = api.get(f"{API}/dnc-lists").json()
    assert [(d["name"], d["number_count"]) for d in listed] == [
        ("National", 2),
        ("Internal opt-outs", 0),
    ]
    assert api.get(f"{API}/dnc-lists/{created['id']}").json()["number_count"] == 2

    assert api.delete(f"{API}/dnc-lists/{created['id']}").status_code == 204
    missing = api.get(f"{API}/dnc-lists/{created['id']}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert api.delete(f"{API}/dnc-lists/{created['id']}").status_code == 404
    assert actions(api, "dnc_list.") == [
        "dnc_list.create",
        "dnc_list.create",
        "dnc_list.update",
        "dnc_list.delete",
    ]


def test_add_and_remove_report_each_number(api: TestClient) -> None:
    list_id = create(api)["id"]
    report = add(api, list_id, [phone(1), "+1 " + phone(2), "not a phone", phone(1), " "])
    assert report["added"] == [e164(1), e164(2)]
    assert report["already_present"] == []
    assert [(r["item"], r["number"]) for r in report["rejected"]] == [
        (3, "not a phone"),
        (4, phone(1)),
        (5, " "),
    ]
    assert "is not a phone number" in report["rejected"][0]["reason"]
    assert report["rejected"][1]["reason"] == f"duplicate of item 1 ({e164(1)})"
    assert report["rejected"][2]["reason"] == "the number is empty"

    again = add(api, list_id, [e164(2), phone(3)])
    assert (again["added"], again["already_present"]) == ([e164(3)], [e164(2)])

    uk = add(api, list_id, ["020 7946 0018"], region="GB")
    assert uk["added"] == ["+442079460018"]
    bad_region = api.post(
        f"{API}/dnc-lists/{list_id}/numbers", json={"numbers": [phone(4)], "region": "XX"}
    )
    assert bad_region.status_code == 422
    assert bad_region.json()["error"]["details"] == {"field": "region"}

    removed = api.post(
        f"{API}/dnc-lists/{list_id}/numbers/remove", json={"numbers": [phone(1), phone(9), "x"]}
    )
    assert removed.status_code == 200, removed.text
    body = removed.json()
    assert (body["removed"], body["not_present"]) == ([e164(1)], [e164(9)])
    assert [r["item"] for r in body["rejected"]] == [3]
    assert all_numbers(api, list_id) == sorted(["+442079460018", e164(2), e164(3)])

    none = api.post(f"{API}/dnc-lists/{list_id}/numbers", json={"numbers": []})
    assert none.status_code == 422
    assert api.post(f"{API}/dnc-lists/999/numbers", json={"numbers": [phone(1)]}).status_code == 404
    entries = api.get(f"{API}/audit", params={"action": "dnc."}).json()
    assert [e["action"] for e in reversed(entries)] == [
        "dnc.add",
        "dnc.add",
        "dnc.add",
        "dnc.remove",
    ]
    assert entries[-1]["after"] == {"numbers": [e164(1), e164(2)], "source": "api"}


def test_numbers_are_paged_in_order(api: TestClient) -> None:
    list_id = create(api)["id"]
    add(api, list_id, [phone(n) for n in (5, 1, 4, 2, 3)])
    seen: list[str] = []
    after: str | None = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2}
        if after is not None:
            params["after"] = after
        page = api.get(f"{API}/dnc-lists/{list_id}/numbers", params=params).json()
        seen += [n["number"] for n in page["numbers"]]
        assert all(n["source"] == "api" for n in page["numbers"])
        after = page["next_after"]
        if after is None:
            break
    assert seen == [e164(n) for n in range(1, 6)]
    assert api.get(f"{API}/dnc-lists/{list_id}/numbers", params={"limit": 0}).status_code == 422


# --- imports -----------------------------------------------------------------------------------


def test_import_keeps_good_rows_and_reports_bad_ones_by_line(api: TestClient) -> None:
    list_id = create(api)["id"]
    add(api, list_id, [phone(50)])
    lines = ["number;note"]  # line 1
    lines += [f"{phone(n)};good" for n in range(10)]  # lines 2-11
    lines += [
        "not a phone;bad",  # 12
        ";empty",  # 13
        f"{phone(3)};repeat of line 5",  # 14
        f"{phone(50)};already in the list",  # 15
        "",  # 16: blank, skipped
        f"{phone(60)}",  # 17: one field, the header has two
        f'"{phone(61)}";"a note on',  # 18
        'two lines"',  # 19 (same row)
    ]
    content = "\ufeff" + "\n".join(lines) + "\n"
    response = post_csv(api, list_id, content.encode(), source="dnc.csv")
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["source"] == "dnc.csv"
    assert (report["rows_total"], report["rows_accepted"], report["rows_rejected"]) == (16, 11, 5)
    assert [(r["line"], r["column"], r["reason"]) for r in report["rejections"]] == [
        (12, "number", "'not a phone' is not a phone number (not a number)"),
        (13, "number", "the number is empty"),
        (14, "number", f"duplicate number {e164(3)} (first seen on line 5)"),
        (15, "number", f"number {e164(50)} is already in the list"),
        (17, None, "wrong column count: expected 2, found 1"),
    ]
    assert report["rejections_truncated"] is False
    assert all_numbers(api, list_id) == sorted([*(e164(n) for n in range(10)), e164(50), e164(61)])
    entries = api.get(f"{API}/audit", params={"action": "dnc.import"}).json()
    assert entries[0]["after"] == {
        "source": "dnc.csv",
        "rows_total": 16,
        "rows_accepted": 11,
        "rows_rejected": 5,
    }


def test_import_batches_keep_reports_in_line_order(db: Database, clock: FrozenClock) -> None:
    service = dnc_service(db, clock)
    list_id = service.create_list(SYSTEM, name="L").list.id
    rows = ["NUMBER"] + [phone(n % 7) if n % 3 else "junk" for n in range(40)]
    report = service.import_numbers(
        SYSTEM,
        list_id,
        io.BytesIO("\n".join(rows).encode()),
        region="US",
        batch_rows=4,
    )
    assert report.rows_total == 40
    assert report.rows_accepted == 7
    assert report.rows_accepted + report.rows_rejected == report.rows_total
    lines = [r.line for r in report.rejections]
    assert lines == sorted(lines)
    assert len(lines) == 33


def test_import_as_multipart_with_tabs(api: TestClient) -> None:
    list_id = create(api)["id"]
    content = "id\tNumber\n1\t" + phone(1) + "\n2\t" + phone(2) + "\n"
    response = api.post(
        f"{API}/dnc-lists/{list_id}/imports",
        files={"file": ("optouts.tsv", content.encode(), "text/tab-separated-values")},
    )
    assert response.status_code == 201, response.text
    assert response.json()["source"] == "optouts.tsv"
    assert response.json()["rows_accepted"] == 2
    assert all_numbers(api, list_id) == [e164(1), e164(2)]


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"", "file"),
        ((b"+16022000001\n+16022000002\n"), "header"),  # no header row
        (b"phone\n6022000001\n", "header"),
        (b"number\n" + "\u00e9".encode("latin-1") + b"\n", "file"),
    ],
)
def test_a_file_level_problem_stores_nothing(api: TestClient, content: bytes, field: str) -> None:
    list_id = create(api)["id"]
    response = post_csv(api, list_id, content)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"] == {"field": field}
    assert all_numbers(api, list_id) == []
    assert api.get(f"{API}/audit", params={"action": "dnc.import"}).json() == []


def test_an_import_is_one_transaction(api: TestClient) -> None:
    list_id = create(api)["id"]
    good = "\n".join(phone(n) for n in range(20))
    response = post_csv(api, list_id, f'number\n{good}\n"{phone(99)}"x"\n'.encode())
    assert response.status_code == 422
    assert "line 22" in response.json()["error"]["message"]
    assert all_numbers(api, list_id) == []


def test_import_refuses_other_media_types(api: TestClient) -> None:
    list_id = create(api)["id"]
    response = api.post(f"{API}/dnc-lists/{list_id}/imports", json={"number": phone(1)})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


# --- campaigns and the check -------------------------------------------------------------------


def test_campaign_attachment(api: TestClient, make_user: MakeUser) -> None:
    campaign_id = campaign(api, make_user)
    national, internal = create(api)["id"], create(api, "Internal")["id"]
    path = f"{API}/campaigns/{campaign_id}/dnc-lists"
    assert api.get(path).json() == {"campaign_id": campaign_id, "dnc_lists": []}

    put = api.put(path, json={"dnc_list_ids": [internal, national, internal]})
    assert put.status_code == 200, put.text
    assert [d["id"] for d in put.json()["dnc_lists"]] == [national, internal]
    assert api.get(f"{API}/dnc-lists/{national}").json()["campaign_ids"] == [campaign_id]

    unknown = api.put(path, json={"dnc_list_ids": [national, 999]})
    assert unknown.status_code == 404
    assert [d["id"] for d in api.get(path).json()["dnc_lists"]] == [national, internal]
    assert api.get(f"{API}/campaigns/999/dnc-lists").status_code == 404

    in_use = api.delete(f"{API}/dnc-lists/{national}")
    assert in_use.status_code == 409
    assert "Collections" in in_use.json()["error"]["message"]

    assert [
        d["id"] for d in api.put(path, json={"dnc_list_ids": [internal]}).json()["dnc_lists"]
    ] == [internal]
    assert api.delete(f"{API}/dnc-lists/{national}").status_code == 204
    entries = api.get(f"{API}/audit", params={"action": "dnc_list.attach"}).json()
    assert [e["after"] for e in reversed(entries)] == [
        {"dnc_list_ids": [national, internal]},
        {"dnc_list_ids": [internal]},
    ]
    assert all(e["target_type"] == "campaign" for e in entries)


def test_the_campaign_check_is_one_query_across_its_lists(
    api: TestClient, make_user: MakeUser, db: Database
) -> None:
    campaign_id = campaign(api, make_user)
    first, second, unattached = (create(api, name)["id"] for name in ("A", "B", "C"))
    add(api, first, [phone(1), phone(2)])
    add(api, second, [phone(2), phone(3)])
    add(api, unattached, [phone(4)])
    api.put(f"{API}/campaigns/{campaign_id}/dnc-lists", json={"dnc_list_ids": [first, second]})

    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    numbers = [e164(n) for n in range(1, 6)]
    with db.read() as session:
        session.connection()  # begin first: only the check itself is counted
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            found = dnc.dnc_numbers_for_campaign(session, campaign_id, numbers)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert found == {e164(1), e164(2), e164(3)}
    assert len(statements) == 1, statements
    with db.read() as session:
        assert dnc.dnc_numbers_for_campaign(session, campaign_id, []) == set()
        assert dnc.dnc_numbers_for_campaign(session, 999, numbers) == set()

    check = api.get(
        f"{API}/dnc-lists/check", params={"number": phone(2), "campaign_id": campaign_id}
    )
    assert check.status_code == 200, check.text
    assert check.json() == {
        "number": e164(2),
        "campaign_id": campaign_id,
        "blocked": True,
        "lists": [{"id": first, "name": "A"}, {"id": second, "name": "B"}],
    }
    outside = api.get(
        f"{API}/dnc-lists/check", params={"number": phone(4), "campaign_id": campaign_id}
    ).json()
    assert (outside["blocked"], outside["lists"]) == (False, [])
    anywhere = api.get(f"{API}/dnc-lists/check", params={"number": e164(4)}).json()
    assert (anywhere["blocked"], anywhere["lists"]) == (True, [{"id": unattached, "name": "C"}])
    bad = api.get(f"{API}/dnc-lists/check", params={"number": "12"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"] == {"field": "number"}
    assert (
        api.get(
            f"{API}/dnc-lists/check", params={"number": phone(1), "campaign_id": 999}
        ).status_code
        == 404
    )


def test_campaign_own_list(
    api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    campaign_id = campaign(api, make_user)
    create(api, "Campaign Collections do-not-call")  # the natural name is taken
    with db.write() as session:
        own = dnc.ensure_campaign_list(session, SYSTEM, campaign_id, "Collections", clock.now())
        again = dnc.ensure_campaign_list(session, SYSTEM, campaign_id, "Collections", clock.now())
        assert again.id == own.id
        added = dnc.add_to_campaign_list(
            session, SYSTEM, campaign_id, [e164(7), e164(7), e164(8)], "decline", clock.now()
        )
        assert added == [e164(7), e164(8)]
        assert (
            dnc.add_to_campaign_list(session, SYSTEM, campaign_id, [e164(7)], "wrapup", clock.now())
            == []
        )
        with pytest.raises(InvalidInput):
            dnc.add_to_campaign_list(
                session, SYSTEM, campaign_id, ["6022000001"], "api", clock.now()
            )
        with pytest.raises(InvalidInput):
            dnc.add_to_campaign_list(
                session, SYSTEM, campaign_id, ["6022000001"], "decline", clock.now()
            )
        assert dnc.dnc_numbers_for_campaign(session, campaign_id, [e164(7), e164(9)]) == {e164(7)}
        rows = session.execute(
            select(DncNumber.e164, DncNumber.source).where(DncNumber.list_id == own.id)
        )
        sources = dict(rows.all())
        assert sources == {e164(7): "decline", e164(8): "decline"}
    own_id = own.id
    listed = api.get(f"{API}/dnc-lists/{own_id}").json()
    assert listed["name"] == "Campaign Collections do-not-call (2)"
    assert (listed["campaign_id"], listed["campaign_ids"]) == (campaign_id, [campaign_id])

    path = f"{API}/campaigns/{campaign_id}/dnc-lists"
    dropped = api.put(path, json={"dnc_list_ids": []})
    assert dropped.status_code == 409
    assert dropped.json()["error"]["details"] == {"field": "dnc_list_ids"}
    assert api.delete(f"{API}/dnc-lists/{own_id}").status_code == 409
    with pytest.raises(Conflict):
        dnc_service(db, clock).detach_list(SYSTEM, campaign_id, own_id)

    # The campaign goes; its list stays, as an ordinary list that may now be deleted.
    assert api.delete(f"{API}/campaigns/{campaign_id}").status_code == 204
    orphan = api.get(f"{API}/dnc-lists/{own_id}").json()
    assert (orphan["campaign_id"], orphan["campaign_ids"], orphan["number_count"]) == (None, [], 2)
    assert api.delete(f"{API}/dnc-lists/{own_id}").status_code == 204
    with db.read() as session:
        assert session.scalars(select(DncNumber).where(DncNumber.list_id == own_id)).all() == []
        assert session.get(DncList, own_id) is None
    assert "dnc.add" in actions(api, "dnc.")


def test_attach_and_detach_one_list(
    api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    campaign_id = campaign(api, make_user)
    list_id = create(api)["id"]
    service = dnc_service(db, clock)
    assert service.attach_list(SYSTEM, campaign_id, list_id)
    assert not service.attach_list(SYSTEM, campaign_id, list_id)
    assert service.detach_list(SYSTEM, campaign_id, list_id)
    assert not service.detach_list(SYSTEM, campaign_id, list_id)
    assert actions(api, "dnc_list.") == ["dnc_list.create", "dnc_list.attach", "dnc_list.detach"]


# --- rights ------------------------------------------------------------------------------------


def test_rights(dnc_client: TestClient, admin: Person, make_user: MakeUser) -> None:
    created = dnc_client.post(f"{API}/dnc-lists", json={"name": "N"}, headers=admin.headers)
    list_id = created.json()["id"]
    agent = make_user("agent")
    supervisor = make_user("supervisor")
    reads = [
        ("GET", f"{API}/dnc-lists", None),
        ("GET", f"{API}/dnc-lists/{list_id}", None),
        ("GET", f"{API}/dnc-lists/{list_id}/numbers", None),
        ("GET", f"{API}/dnc-lists/check?number={phone(1)}", None),
    ]
    writes = [
        ("POST", f"{API}/dnc-lists", {"name": "Mine"}),
        ("PATCH", f"{API}/dnc-lists/{list_id}", {"name": "Mine"}),
        ("POST", f"{API}/dnc-lists/{list_id}/numbers", {"numbers": [phone(1)]}),
        ("POST", f"{API}/dnc-lists/{list_id}/numbers/remove", {"numbers": [phone(1)]}),
        ("PUT", f"{API}/campaigns/1/dnc-lists", {"dnc_list_ids": []}),
        ("DELETE", f"{API}/dnc-lists/{list_id}", None),
    ]
    for method, url, body in [*reads, *writes]:
        response = dnc_client.request(method, url, json=body, headers=agent.headers)
        assert response.status_code == 403, (method, url, response.text)
        assert response.json()["error"]["code"] == "permission_denied"
        assert response.json()["error"]["details"] == {"right": "dnc.manage"}
        anonymous = dnc_client.request(method, url, json=body)
        assert anonymous.status_code == 401, (method, url)
        assert anonymous.json()["error"]["code"] == "not_authenticated"
    for method, url, _ in reads:
        assert dnc_client.request(method, url, headers=supervisor.headers).status_code == 200
    for method, url, body in writes:
        response = dnc_client.request(method, url, json=body, headers=supervisor.headers)
        assert response.status_code == 403, (method, url)
    assert post_csv(dnc_client, list_id, b"number\n6022000001\n").status_code == 401
    imported = dnc_client.post(
        f"{API}/dnc-lists/{list_id}/imports",
        content=b"number\n6022000001\n",
        headers={"Content-Type": "text/csv", **agent.headers},
    )
    assert imported.status_code == 403
    assert all_numbers_as(dnc_client, admin, list_id) == []


def all_numbers_as(client: TestClient, person: Person, list_id: int) -> list[str]:
    page = client.get(f"{API}/dnc-lists/{list_id}/numbers", headers=person.headers).json()
    return [n["number"] for n in page["numbers"]]


def test_racing_declines_create_one_campaign_list(
    api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    campaign_id = campaign(api, make_user)
    barrier = threading.Barrier(4)

    def decline(n: int) -> tuple[int, list[str]]:
        barrier.wait()
        with db.write() as session:
            added = dnc.add_to_campaign_list(
                session, SYSTEM, campaign_id, [e164(1), e164(n)], "decline", clock.now()
            )
            own = dnc.ensure_campaign_list(session, SYSTEM, campaign_id, "Collections", clock.now())
            return own.id, added

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(decline, range(10, 14)))
    assert len({own for own, _ in results}) == 1
    added = [n for _, numbers in results for n in numbers]
    assert sorted(added) == sorted([e164(1), *(e164(n) for n in range(10, 14))])
    own_id = results[0][0]
    lists = api.get(f"{API}/campaigns/{campaign_id}/dnc-lists").json()["dnc_lists"]
    assert [(d["id"], d["number_count"]) for d in lists] == [(own_id, 5)]
    assert actions(api, "dnc_list.") == ["dnc_list.create", "dnc_list.attach"]


def test_the_campaign_check_uses_an_index(
    api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    campaign_id = campaign(api, make_user)
    list_ids = [create(api, f"L{n}")["id"] for n in range(20)]
    with db.write() as session:
        session.execute(
            insert(DncNumber),
            [
                {"list_id": list_id, "e164": e164(n), "added_at": clock.now(), "source": "api"}
                for i, list_id in enumerate(list_ids)
                for n in range(i * 1000, i * 1000 + 1000)
            ],
        )
        if db.dialect == "postgresql":
            session.execute(text("ANALYZE"))
    api.put(f"{API}/campaigns/{campaign_id}/dnc-lists", json={"dnc_list_ids": list_ids[:3]})

    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        captured.append((statement, parameters))

    with db.read() as session:
        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            found = dnc.dnc_numbers_for_campaign(session, campaign_id, [e164(5), e164(15005)])
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        assert found == {e164(5)}
        statement, parameters = next((s, p) for s, p in captured if "dnc_numbers" in s)
        prefix = "EXPLAIN " if db.dialect == "postgresql" else "EXPLAIN QUERY PLAN "
        rows = session.connection().exec_driver_sql(prefix + statement, parameters).all()
    plan = "\n".join(str(row[-1]) for row in rows)
    if db.dialect == "postgresql":
        assert "Seq Scan on dnc_numbers" not in plan, plan
    else:
        assert "SCAN dnc_numbers" not in plan, plan
        assert "SEARCH dnc_numbers USING" in plan, plan
