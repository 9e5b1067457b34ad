"""Credentials and rights: 401 without or with bad credentials, 403 without the right."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import MakeUser, Person

ADMIN_ENDPOINTS = [
    ("POST", "/api/v1/users", {"email": "x@example.com", "role": "agent"}),
    ("GET", "/api/v1/users", None),
    ("POST", "/api/v1/roles", {"name": "r", "rights": []}),
    ("POST", "/api/v1/queues", {"name": "q"}),
    ("POST", "/api/v1/skills", {"name": "s", "expression": 'state == "AZ"'}),
    ("GET", "/api/v1/contact-lists", None),
    ("POST", "/api/v1/contact-lists", {"name": "l", "columns": ["p"], "phone_columns": ["p"]}),
    ("POST", "/api/v1/wrapup-code-sets", {"name": "w"}),
    ("GET", "/api/v1/audit", None),
]


def error_code(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}, body
    return str(body["error"]["code"])


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ENDPOINTS)
def test_agent_token_is_forbidden_on_admin_endpoints(
    app_client: TestClient, make_user: MakeUser, method: str, path: str, body: object
) -> None:
    agent = make_user("agent")
    response = app_client.request(method, path, json=body, headers=agent.headers)
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ENDPOINTS)
def test_no_token_is_unauthenticated(
    app_client: TestClient, method: str, path: str, body: object
) -> None:
    response = app_client.request(method, path, json=body)
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"
    assert response.headers["www-authenticate"] == "Bearer"


def test_wrong_token_and_malformed_header_are_unauthenticated(app_client: TestClient) -> None:
    for header in ("Bearer chp_nonsense", "Basic abc", "Bearer "):
        response = app_client.get("/api/v1/auth/me", headers={"Authorization": header})
        assert response.status_code == 401, header


def test_revoked_token_is_unauthenticated(app_client: TestClient, admin: Person) -> None:
    created = app_client.post(
        "/api/v1/auth/tokens", json={"name": "script"}, headers=admin.headers
    ).json()
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert app_client.get("/api/v1/auth/me", headers=headers).status_code == 200
    listed = app_client.get("/api/v1/auth/tokens", headers=admin.headers).json()
    assert [t["prefix"] for t in listed if t["id"] == created["id"]] == [created["token"][:10]]
    assert all("token" not in t for t in listed)  # the secret is never shown again

    revoked = app_client.delete(f"/api/v1/auth/tokens/{created['id']}", headers=admin.headers)
    assert revoked.status_code == 204
    assert app_client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_admin_revokes_another_users_token(
    app_client: TestClient, admin: Person, make_user: MakeUser
) -> None:
    agent = make_user("agent")
    tokens = app_client.get(f"/api/v1/users/{agent.user_id}/tokens", headers=admin.headers).json()
    assert len(tokens) == 1
    response = app_client.delete(
        f"/api/v1/users/{agent.user_id}/tokens/{tokens[0]['id']}", headers=admin.headers
    )
    assert response.status_code == 204
    assert app_client.get("/api/v1/auth/me", headers=agent.headers).status_code == 401


def test_agent_cannot_revoke_someone_elses_token(
    app_client: TestClient, admin: Person, make_user: MakeUser
) -> None:
    agent = make_user("agent")
    admin_tokens = app_client.get("/api/v1/auth/tokens", headers=admin.headers).json()
    response = app_client.delete(
        f"/api/v1/auth/tokens/{admin_tokens[0]['id']}", headers=agent.headers
    )
    assert response.status_code == 404
    assert app_client.get("/api/v1/auth/me", headers=admin.headers).status_code == 200


def test_login_sets_a_session_cookie_and_logout_ends_it(
    app_client: TestClient, make_user: MakeUser
) -> None:
    agent = make_user("agent", password="s3cret-pass")
    response = app_client.post(
        "/api/v1/auth/login", json={"email": agent.email.upper(), "password": "s3cret-pass"}
    )
    assert response.status_code == 200
    assert response.json()["user_id"] == agent.user_id
    assert "callhopper_session" in response.cookies
    me = app_client.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["rights"] == ["agent.work"]

    assert app_client.post("/api/v1/auth/logout").status_code == 204
    app_client.cookies.clear()
    assert app_client.get("/api/v1/auth/me").status_code == 401


def test_stale_cookie_is_refused_after_logout(app_client: TestClient, make_user: MakeUser) -> None:
    agent = make_user("agent", password="s3cret-pass")
    app_client.post("/api/v1/auth/login", json={"email": agent.email, "password": "s3cret-pass"})
    cookie = app_client.cookies["callhopper_session"]
    app_client.post("/api/v1/auth/logout")
    app_client.cookies.set("callhopper_session", cookie)
    assert app_client.get("/api/v1/auth/me").status_code == 401


def test_wrong_password_is_refused(app_client: TestClient, make_user: MakeUser) -> None:
    agent = make_user("agent", password="s3cret-pass")
    for email, password in ((agent.email, "wrong-pass"), ("nobody@example.com", "s3cret-pass")):
        response = app_client.post(
            "/api/v1/auth/login", json={"email": email, "password": password}
        )
        assert response.status_code == 401
        assert "callhopper_session" not in response.cookies


def test_deactivated_user_cannot_log_in_and_loses_tokens(
    app_client: TestClient, admin: Person, make_user: MakeUser
) -> None:
    agent = make_user("agent", password="s3cret-pass")
    response = app_client.post(f"/api/v1/users/{agent.user_id}/deactivate", headers=admin.headers)
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert response.json()["deactivated_at"] is not None

    login = app_client.post(
        "/api/v1/auth/login", json={"email": agent.email, "password": "s3cret-pass"}
    )
    assert login.status_code == 401
    assert app_client.get("/api/v1/auth/me", headers=agent.headers).status_code == 401
    # History stays: the user is still listed, as deactivated.
    listed = app_client.get("/api/v1/users?active=false", headers=admin.headers).json()
    assert [u["user_id"] for u in listed] == [agent.user_id]


def test_expired_session_is_refused(app_client: TestClient, make_user: MakeUser, clock) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    agent = make_user("agent", password="s3cret-pass")
    app_client.post("/api/v1/auth/login", json={"email": agent.email, "password": "s3cret-pass"})
    assert app_client.get("/api/v1/auth/me").status_code == 200
    clock.advance(timedelta(hours=13))
    assert app_client.get("/api/v1/auth/me").status_code == 401


def test_custom_role_drops_rights(
    app_client: TestClient, admin: Person, make_user: MakeUser
) -> None:
    response = app_client.post(
        "/api/v1/roles",
        json={"name": "admin-no-mass-edit", "based_on": "admin", "without": ["lead.mass_edit"]},
        headers=admin.headers,
    )
    assert response.status_code == 201
    assert "lead.mass_edit" not in response.json()["rights"]
    assert "user.manage" in response.json()["rights"]
    limited = make_user("admin-no-mass-edit")
    me = app_client.get("/api/v1/auth/me", headers=limited.headers).json()
    assert me["role"] == "admin-no-mass-edit" and "lead.mass_edit" not in me["rights"]
    # It still manages users, which it kept.
    created = app_client.post(
        "/api/v1/users", json={"email": "new@example.com"}, headers=limited.headers
    )
    assert created.status_code == 201


def test_nobody_grants_rights_they_do_not_hold(
    app_client: TestClient, admin: Person, make_user: MakeUser
) -> None:
    """Holding user.manage is not holding every right (custom roles drop rights)."""
    for name, body in (
        ("helpdesk", {"rights": ["user.manage"]}),
        ("limited", {"based_on": "admin", "without": ["lead.mass_edit"]}),
    ):
        made = app_client.post("/api/v1/roles", json={"name": name, **body}, headers=admin.headers)
        assert made.status_code == 201, made.text
    helpdesk, limited, agent = make_user("helpdesk"), make_user("limited"), make_user("agent")

    def refused(who: Person, method: str, path: str, body: Any = None) -> str:
        response = app_client.request(method, f"/api/v1{path}", json=body, headers=who.headers)
        assert response.status_code == 403, (method, path, response.text)
        return str(response.json()["error"]["message"])

    # No promotion of oneself or of others, no role with more rights than one's own.
    assert "admin" in refused(helpdesk, "PATCH", f"/users/{helpdesk.user_id}", {"role": "admin"})
    refused(helpdesk, "POST", "/users", {"email": "x@example.com", "role": "admin"})
    assert "lead.mass_edit" in refused(
        limited, "PATCH", "/roles/limited", {"rights": ["user.manage", "lead.mass_edit"]}
    )
    refused(helpdesk, "POST", "/roles", {"name": "mine", "based_on": "admin", "without": []})
    refused(helpdesk, "DELETE", "/roles/limited")
    # No taking over a stronger account: its password, its tokens, its activity.
    refused(helpdesk, "PATCH", f"/users/{admin.user_id}", {"password": "taken-over-1"})
    refused(helpdesk, "POST", f"/users/{admin.user_id}/tokens", {"name": "borrowed"})
    refused(helpdesk, "POST", f"/users/{agent.user_id}/tokens", {"name": "act as agent"})
    refused(helpdesk, "POST", f"/users/{admin.user_id}/deactivate")
    admin_token = app_client.get(f"/api/v1/users/{admin.user_id}/tokens", headers=admin.headers)
    token_id = admin_token.json()[0]["id"]
    refused(helpdesk, "DELETE", f"/users/{admin.user_id}/tokens/{token_id}")
    assert app_client.get("/api/v1/auth/me", headers=admin.headers).status_code == 200
    # What is within one's own rights still works.
    fellow = make_user("helpdesk")
    renamed = app_client.patch(
        f"/api/v1/users/{fellow.user_id}", json={"display_name": "Fellow"}, headers=helpdesk.headers
    )
    assert renamed.status_code == 200
    minted = app_client.post(
        f"/api/v1/users/{agent.user_id}/tokens", json={"name": "ops"}, headers=limited.headers
    )
    assert minted.status_code == 201
    # A token id named under another user is not that user's.
    mine = app_client.get(f"/api/v1/users/{agent.user_id}/tokens", headers=admin.headers).json()
    wrong = app_client.delete(
        f"/api/v1/users/{fellow.user_id}/tokens/{mine[0]['id']}", headers=admin.headers
    )
    assert wrong.status_code == 404
    assert app_client.get("/api/v1/auth/me", headers=agent.headers).status_code == 200


def test_unknown_right_is_named(app_client: TestClient, admin: Person) -> None:
    response = app_client.post(
        "/api/v1/roles", json={"name": "r", "rights": ["campaign.fly"]}, headers=admin.headers
    )
    assert response.status_code == 422
    assert "campaign.fly" in response.json()["error"]["message"]


def test_supervisor_reads_but_does_not_manage(app_client: TestClient, make_user: MakeUser) -> None:
    supervisor = make_user("supervisor")
    assert app_client.get("/api/v1/users", headers=supervisor.headers).status_code == 200
    assert app_client.get("/api/v1/contact-lists", headers=supervisor.headers).status_code == 200
    assert app_client.get("/api/v1/audit", headers=supervisor.headers).status_code == 200
    response = app_client.post(
        "/api/v1/users", json={"email": "y@example.com"}, headers=supervisor.headers
    )
    assert response.status_code == 403
