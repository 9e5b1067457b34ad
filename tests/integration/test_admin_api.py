"""Users, queues, skills, wrap-up codes and the audit log through the API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support import MakeUser, Person


def test_user_lifecycle_is_audited(api: TestClient, admin: Person) -> None:
    created = api.post(
        "/api/v1/users",
        json={
            "email": "Rita@Example.com",
            "display_name": "Rita",
            "role": "agent",
            "password": "long-enough",
            "user_id": "rita",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "Rita@Example.com"

    duplicate = api.post("/api/v1/users", json={"email": "rita@example.COM"})
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.json()["error"]["message"]

    updated = api.patch("/api/v1/users/rita", json={"role": "supervisor", "display_name": "R."})
    assert updated.json()["role"] == "supervisor"
    assert api.post("/api/v1/users/rita/deactivate").json()["active"] is False
    assert api.post("/api/v1/users/rita/activate").json()["active"] is True

    entries = api.get("/api/v1/audit", params={"target_type": "user", "target_id": "rita"}).json()
    assert [e["action"] for e in entries] == [
        "user.activate",
        "user.deactivate",
        "user.update",
        "user.create",
    ]
    assert all(e["actor"] == admin.user_id for e in entries)
    assert entries[2]["before"]["role"] == "agent" and entries[2]["after"]["role"] == "supervisor"
    assert "password" not in str(entries)


def test_user_input_errors_name_the_field(api: TestClient) -> None:
    response = api.post("/api/v1/users", json={"email": "not-an-email"})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "email"
    response = api.post("/api/v1/users", json={"email": "a@example.com", "role": "pilot"})
    assert response.status_code == 404
    assert "no role named 'pilot'" in response.json()["error"]["message"]
    response = api.post("/api/v1/users", json={"email": "a@example.com", "user_id": "bad id!"})
    assert response.status_code == 422
    # A user id that reads like an email (another user's, say) would capture owner values.
    response = api.post(
        "/api/v1/users", json={"email": "z@example.com", "user_id": "alice@example.com"}
    )
    assert response.status_code == 422
    assert "no @" in response.json()["error"]["message"]
    response = api.post("/api/v1/users", json={"email": "a@example.com", "extra": 1})
    assert response.status_code == 422
    assert "extra" in response.json()["error"]["message"]


def test_admin_cannot_deactivate_themselves(api: TestClient, admin: Person) -> None:
    response = api.post(f"/api/v1/users/{admin.user_id}/deactivate")
    assert response.status_code == 409


def test_queue_members_must_be_active_agents(api: TestClient, make_user: MakeUser) -> None:
    agent = make_user("agent")
    supervisor = make_user("supervisor")
    queue = api.post("/api/v1/queues", json={"name": "Sales"}).json()
    added = api.post(f"/api/v1/queues/{queue['id']}/members", json={"user_ids": [agent.user_id]})
    assert added.json()["member_user_ids"] == [agent.user_id]
    # Adding again changes nothing.
    again = api.post(f"/api/v1/queues/{queue['id']}/members", json={"user_ids": [agent.user_id]})
    assert again.json()["member_user_ids"] == [agent.user_id]
    refused = api.post(
        f"/api/v1/queues/{queue['id']}/members", json={"user_ids": [supervisor.user_id]}
    )
    assert refused.status_code == 422
    assert "agent.work" in refused.json()["error"]["message"]
    missing = api.post(f"/api/v1/queues/{queue['id']}/members", json={"user_ids": ["ghost"]})
    assert missing.status_code == 404
    removed = api.post(
        f"/api/v1/queues/{queue['id']}/members/remove", json={"user_ids": [agent.user_id]}
    )
    assert removed.json()["member_user_ids"] == []
    user = api.get(f"/api/v1/users/{agent.user_id}").json()
    assert user["queue_ids"] == []


def test_skills_are_parsed_canonicalised_and_assigned(api: TestClient, make_user: MakeUser) -> None:
    agent = make_user("agent")
    skill = api.post(
        "/api/v1/skills",
        json={"name": "Arizona", "expression": "STATE == 'AZ'  AND  age >= 21"},
    )
    assert skill.status_code == 201, skill.text
    body = skill.json()
    assert body["expression"] == 'STATE == "AZ" and age >= 21'
    assert body["filter"]["groups"][0][1]["op"] == ">="
    bad = api.post("/api/v1/skills", json={"name": "Broken", "expression": "state =="})
    assert bad.status_code == 422
    assert "position" in bad.json()["error"]["message"]
    assigned = api.put(f"/api/v1/users/{agent.user_id}/skills", json={"skill_ids": [body["id"]]})
    assert assigned.json()["skill_ids"] == [body["id"]]
    assert (
        api.put(f"/api/v1/users/{agent.user_id}/skills", json={"skill_ids": [999]}).status_code
        == 404
    )


def test_default_wrapup_set_has_the_spec_codes(api: TestClient) -> None:
    sets = api.get("/api/v1/wrapup-code-sets").json()
    assert [s["name"] for s in sets] == ["Default"]
    codes = {c["code"]: c for c in sets[0]["codes"]}
    assert list(codes) == [
        "sale",
        "interested",
        "not_interested",
        "no_answer",
        "busy",
        "answering_machine",
        "wrong_number",
        "do_not_call",
        "callback",
    ]
    assert codes["do_not_call"]["adds_to_dnc"] and codes["do_not_call"]["final"]
    assert codes["no_answer"]["counts_as_attempt"] is False
    assert codes["no_answer"]["retry_after_minutes"] == 60
    assert codes["interested"]["owner_action"] == "set_owner_to_agent"


def test_wrapup_sets_are_created_edited_and_validated(api: TestClient) -> None:
    copy = api.post("/api/v1/wrapup-code-sets", json={"name": "Sales"})
    assert copy.status_code == 201
    assert len(copy.json()["codes"]) == 9
    set_id = copy.json()["id"]
    codes = [
        {"code": "sale", "label": "Sale!", "final": True},
        {"code": "promise", "label": "Promise to pay", "retry_after_minutes": 2880},
    ]
    edited = api.patch(f"/api/v1/wrapup-code-sets/{set_id}", json={"codes": codes})
    assert [c["code"] for c in edited.json()["codes"]] == ["sale", "promise"]
    assert edited.json()["codes"][0]["label"] == "Sale!"
    bad = api.patch(
        f"/api/v1/wrapup-code-sets/{set_id}",
        json={"codes": [{"code": "Bad Code", "label": "x"}]},
    )
    assert bad.status_code == 422
    dupes = api.patch(
        f"/api/v1/wrapup-code-sets/{set_id}",
        json={"codes": [{"code": "a", "label": "A"}, {"code": "a", "label": "B"}]},
    )
    assert dupes.status_code == 422
    assert "duplicate code(s): a" in dupes.json()["error"]["message"]
    negative = api.post(
        "/api/v1/wrapup-code-sets",
        json={"name": "Neg", "codes": [{"code": "x", "label": "X", "retry_after_minutes": -1}]},
    )
    assert negative.status_code == 422
    assert api.delete(f"/api/v1/wrapup-code-sets/{set_id}").status_code == 204
    assert api.get(f"/api/v1/wrapup-code-sets/{set_id}").status_code == 404


def test_agents_can_read_wrapup_codes(app_client: TestClient, make_user: MakeUser) -> None:
    agent = make_user("agent")
    assert app_client.get("/api/v1/wrapup-code-sets", headers=agent.headers).status_code == 200


def test_audit_filters_and_paging(api: TestClient) -> None:
    for n in range(5):
        api.post("/api/v1/queues", json={"name": f"Q{n}"})
    page = api.get("/api/v1/audit", params={"action": "queue.", "limit": 2}).json()
    assert [e["after"]["name"] for e in page] == ["Q4", "Q3"]
    rest = api.get("/api/v1/audit", params={"action": "queue.", "before_id": page[-1]["id"]}).json()
    assert [e["after"]["name"] for e in rest] == ["Q2", "Q1", "Q0"]
    assert api.get("/api/v1/audit", params={"action": "queue.delete"}).json() == []
    later = api.get("/api/v1/audit", params={"since": "2030-01-01T00:00:00Z"}).json()
    assert later == []


def test_failed_change_writes_no_audit_entry(api: TestClient) -> None:
    api.post("/api/v1/queues", json={"name": "Dup"})
    assert api.post("/api/v1/queues", json={"name": "Dup"}).status_code == 409
    entries = api.get("/api/v1/audit", params={"action": "queue.create"}).json()
    assert len(entries) == 1


def test_openapi_docs_are_served(app_client: TestClient) -> None:
    assert app_client.get("/docs").status_code == 200
    spec = app_client.get("/openapi.json").json()
    assert "/api/v1/contact-lists/{list_id}/imports" in spec["paths"]


def test_unknown_route_uses_the_error_shape(app_client: TestClient) -> None:
    response = app_client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
