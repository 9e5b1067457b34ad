"""Inbound calls to owned leads: one test per case, plus the routes' CRUD."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from callhopper.api.app import create_app
from callhopper.clock import FrozenClock
from callhopper.settings import Settings
from callhopper.store.db import Database
from callhopper.store.models import Record, User
from tests.campaign_helpers import (
    agents,
    make_campaign,
    make_list,
    make_queue,
    owned_rows,
    phone,
    start,
)
from tests.support import MakeUser, Person

DID = "(480) 234-5678"
DID_E164 = "+14802345678"


@pytest.fixture
def client(
    settings: Settings, db: Database, clock: FrozenClock, admin: Person
) -> Iterator[TestClient]:
    """An admin's API client."""
    app = create_app(settings, db, clock)
    with TestClient(app) as test_client:
        test_client.headers.update(admin.headers)
        yield test_client


@dataclass
class Floor:
    """Two agents in a running campaign on a list of three leads (phone(0..2))."""

    ann: Person
    ben: Person
    list_id: int
    campaign_id: int
    queue_id: int
    records: list[int]


@pytest.fixture
def floor(client: TestClient, db: Database, make_user: MakeUser) -> Floor:
    ann, ben = agents(make_user, "ann", "ben")
    list_id = make_list(client, owned_rows(["x", "x", "x"]))
    queue_id = make_queue(client, [ann, ben])
    campaign_id = make_campaign(client, list_id, queue_id, agent_owned_column=None)
    start(client, campaign_id)
    with db.read() as session:
        records = list(
            session.scalars(select(Record.id).where(Record.list_id == list_id).order_by(Record.id))
        )
    return Floor(ann, ben, list_id, campaign_id, queue_id, records)


def make_route(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/inbound-routes", json={"number": DID, "fallback": "voicemail", **body}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def set_owner(db: Database, record_id: int, user_id: str | None) -> None:
    with db.write() as session:
        owner = None
        if user_id is not None:
            owner = session.scalar(select(User.id).where(User.user_id == user_id))
        session.execute(update(Record).where(Record.id == record_id).values(owner_id=owner))


def login(client: TestClient, agent: Person, campaign_id: int) -> None:
    response = client.post(f"/api/v1/agent/campaigns/{campaign_id}/login", headers=agent.headers)
    assert response.status_code in (200, 204), response.text


def route(client: TestClient, caller: str, called: str = DID, **headers: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/inbound/route", json={"caller": caller, "called": called}, headers=headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- the routing rules, case by case ---------------------------------------------------------


def test_a_call_from_an_owned_lead_goes_to_its_available_owner(
    client: TestClient, db: Database, floor: Floor
) -> None:
    make_route(client, fallback=f"queue:{floor.queue_id}")
    set_owner(db, floor.records[1], "ann")
    login(client, floor.ann, floor.campaign_id)

    decision = route(client, phone(1))

    assert decision == {
        "kind": "owner",
        "destination": "agent:ann",
        "reason": "owner_available",
        "route_id": decision["route_id"],
        "called": DID_E164,
        "caller": "+16022000001",
        "record_id": floor.records[1],
        "owner_user_id": "ann",
    }


def test_a_logged_out_owner_is_not_replaced_when_unavailable_agents_are_not_routed(
    client: TestClient, db: Database, floor: Floor
) -> None:
    make_route(client, fallback=f"queue:{floor.queue_id}", route_unavailable_agents=False)
    set_owner(db, floor.records[0], "ann")
    login(client, floor.ben, floor.campaign_id)  # another agent is available; it must not matter

    decision = route(client, phone(0))

    assert decision["kind"] == "fallback"
    assert decision["destination"] == f"queue:{floor.queue_id}"
    assert decision["reason"] == "owner_unavailable"
    assert (decision["record_id"], decision["owner_user_id"]) == (floor.records[0], "ann")
    assert not decision["destination"].startswith("agent:")


def test_a_logged_out_owner_may_be_replaced_when_the_route_allows_it(
    client: TestClient, db: Database, floor: Floor
) -> None:
    make_route(client, fallback=f"queue:{floor.queue_id}", route_unavailable_agents=True)
    set_owner(db, floor.records[0], "ann")
    login(client, floor.ann, floor.campaign_id)
    logout = client.post(
        f"/api/v1/agent/campaigns/{floor.campaign_id}/logout", headers=floor.ann.headers
    )
    assert logout.status_code in (200, 204), logout.text

    decision = route(client, phone(0))

    assert decision["kind"] == "any_agent"
    assert decision["destination"] == f"queue:{floor.queue_id}"
    assert decision["reason"] == "owner_unavailable"
    assert decision["owner_user_id"] == "ann"


def test_a_lead_without_owner_goes_to_the_fallback(client: TestClient, floor: Floor) -> None:
    make_route(client, fallback="voicemail", route_unavailable_agents=True)
    login(client, floor.ann, floor.campaign_id)

    decision = route(client, phone(2))

    assert (decision["kind"], decision["destination"], decision["reason"]) == (
        "fallback",
        "voicemail",
        "no_owner",
    )
    assert (decision["record_id"], decision["owner_user_id"]) == (floor.records[2], None)


def test_a_lead_of_a_deactivated_owner_goes_to_the_fallback(
    client: TestClient, db: Database, floor: Floor
) -> None:
    make_route(client, fallback=f"queue:{floor.queue_id}", route_unavailable_agents=True)
    set_owner(db, floor.records[0], "ann")
    login(client, floor.ann, floor.campaign_id)  # still logged in when deactivated
    assert client.post("/api/v1/users/ann/deactivate").status_code == 200

    decision = route(client, phone(0))

    assert (decision["kind"], decision["destination"], decision["reason"]) == (
        "fallback",
        f"queue:{floor.queue_id}",
        "owner_deactivated",
    )
    assert decision["owner_user_id"] == "ann"


@pytest.mark.parametrize("caller", ["(602) 999-1234", "anonymous", ""])
def test_an_unknown_or_withheld_caller_goes_to_the_fallback(
    client: TestClient, floor: Floor, caller: str
) -> None:
    make_route(client, fallback="voicemail")
    login(client, floor.ann, floor.campaign_id)

    decision = route(client, caller)

    assert (decision["kind"], decision["destination"], decision["reason"]) == (
        "fallback",
        "voicemail",
        "unknown_caller",
    )
    assert decision["record_id"] is None


def test_a_call_to_a_number_without_route_is_404(client: TestClient, floor: Floor) -> None:
    make_route(client)

    response = client.post(
        "/api/v1/inbound/route", json={"caller": phone(0), "called": "(480) 234-5679"}
    )

    assert response.status_code == 404
    assert "+14802345679" in response.json()["error"]["message"]
    unreadable = client.post("/api/v1/inbound/route", json={"caller": phone(0), "called": "x"})
    assert unreadable.status_code == 422


def test_an_available_owner_wins_over_other_leads_with_the_same_number(
    client: TestClient, db: Database, floor: Floor
) -> None:
    make_route(client)
    # A second list holds the same number, unowned, and more recently updated.
    other_list = make_list(client, owned_rows(["x"]), name="Other")
    with db.read() as session:
        other = session.scalars(select(Record.id).where(Record.list_id == other_list)).one()
    set_owner(db, floor.records[0], "ann")
    set_owner(db, other, None)
    login(client, floor.ann, floor.campaign_id)

    decision = route(client, phone(0))

    assert (decision["destination"], decision["record_id"]) == ("agent:ann", floor.records[0])


# --- who may ask, and the routes -----------------------------------------------------------------


def test_only_the_telephony_right_may_ask_for_a_decision_and_agents_manage_no_routes(
    client: TestClient, floor: Floor, make_user: MakeUser
) -> None:
    """A decision names a number's lead and its owner: an agent (or a supervisor) asking
    for one would learn who owns any number, so only ``telephony.route`` may."""
    created = make_route(client)
    supervisor = make_user("supervisor")
    integration = make_user("telephony")

    assert route(client, phone(0), **integration.headers)["reason"] == "no_owner"
    assert route(client, phone(0))["reason"] == "no_owner"  # the administrator
    for who in (floor.ben, supervisor):
        denied = client.post(
            "/api/v1/inbound/route",
            json={"caller": phone(0), "called": DID},
            headers=who.headers,
        )
        assert denied.status_code == 403, denied.text
        assert denied.json()["error"]["details"]["right"] == "telephony.route"
        assert "owner_user_id" not in denied.text
    for method, path, body in [
        ("GET", "/inbound-routes", None),
        ("POST", "/inbound-routes", {"number": "(480) 234-5679", "fallback": "voicemail"}),
        ("PATCH", f"/inbound-routes/{created['id']}", {"fallback": "voicemail"}),
        ("DELETE", f"/inbound-routes/{created['id']}", None),
    ]:
        response = client.request(method, f"/api/v1{path}", json=body, headers=floor.ben.headers)
        assert response.status_code == 403, (method, path)


def test_inbound_routes_crud(client: TestClient, floor: Floor) -> None:
    created = make_route(client, name="Sales line", fallback=" number:(602) 234-5600 ")
    assert (created["number"], created["fallback"]) == (DID_E164, "number:+16022345600")
    assert created["route_unavailable_agents"] is False

    duplicate = client.post(
        "/api/v1/inbound-routes", json={"number": "+1 480-234-5678", "fallback": "voicemail"}
    )
    assert duplicate.status_code == 409
    for fallback in ["queue:999", "queue:x", "agent:ann", "number:12", ""]:
        bad = client.post(
            "/api/v1/inbound-routes", json={"number": "(480) 234-5679", "fallback": fallback}
        )
        assert bad.status_code == 422, fallback
        assert bad.json()["error"]["details"]["field"] == "fallback"
    bad_number = client.post(
        "/api/v1/inbound-routes", json={"number": "12", "fallback": "voicemail"}
    )
    assert bad_number.status_code == 422

    changed = client.patch(
        f"/api/v1/inbound-routes/{created['id']}",
        json={"route_unavailable_agents": True, "fallback": f"queue:{floor.queue_id}"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["fallback"] == f"queue:{floor.queue_id}"
    assert changed.json()["name"] == "Sales line"
    listed = client.get("/api/v1/inbound-routes").json()
    assert [r["route_unavailable_agents"] for r in listed] == [True]
    audit = client.get("/api/v1/audit", params={"action": "inbound_route."}).json()
    assert [e["action"] for e in audit] == ["inbound_route.update", "inbound_route.create"]

    assert client.delete(f"/api/v1/inbound-routes/{created['id']}").status_code == 204
    assert client.get(f"/api/v1/inbound-routes/{created['id']}").status_code == 404
    gone = client.post("/api/v1/inbound/route", json={"caller": phone(0), "called": DID})
    assert gone.status_code == 404


def test_a_queue_an_inbound_route_falls_back_to_cannot_be_deleted(
    client: TestClient, make_user: MakeUser
) -> None:
    (ann,) = agents(make_user, "ann")
    queue_id = make_queue(client, [ann])
    make_route(client, fallback=f"queue:{queue_id}")
    refused = client.delete(f"/api/v1/queues/{queue_id}")
    assert refused.status_code == 409
    assert DID_E164 in refused.json()["error"]["message"]
    assert client.get(f"/api/v1/queues/{queue_id}").status_code == 200
