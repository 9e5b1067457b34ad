"""A state-changing request made with the session cookie from a page of another site is
refused (403) by the API and the pages; bearer-token requests are not affected."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.support import MakeUser, Person

PASSWORD = "correct horse"


@pytest.fixture
def signed_in(app_client: TestClient, make_user: MakeUser, admin: Person) -> TestClient:
    """The admin's browser: the session cookie and nothing else."""
    response = app_client.post(
        "/api/v1/auth/login", json={"email": admin.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    return app_client


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://testserver.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
    ],
)
def test_a_cookie_request_from_another_site_is_refused(
    signed_in: TestClient, make_user: MakeUser, headers: dict[str, str]
) -> None:
    victim = make_user("agent")
    response = signed_in.post(f"/api/v1/users/{victim.user_id}/deactivate", headers=headers)
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "cross_site_request"
    assert "another site" in error["message"]
    user = signed_in.get(f"/api/v1/users/{victim.user_id}").json()
    assert user["active"] is True
    page = signed_in.post("/signout", data={"csrf_token": "x"}, headers=headers)
    assert page.status_code == 403


def test_same_site_cookie_requests_and_bearer_requests_pass(
    signed_in: TestClient, make_user: MakeUser, admin: Person
) -> None:
    one, two, three = make_user("agent"), make_user("agent"), make_user("agent")
    same = signed_in.post(
        f"/api/v1/users/{one.user_id}/deactivate",
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert same.status_code == 200, same.text
    assert signed_in.post(f"/api/v1/users/{two.user_id}/deactivate").status_code == 200
    signed_in.cookies.clear()
    bearer = signed_in.post(
        f"/api/v1/users/{three.user_id}/deactivate",
        headers={"Origin": "https://evil.example", **admin.headers},
    )
    assert bearer.status_code == 200, bearer.text
    # Reading is never refused.
    read = signed_in.get(
        "/api/v1/users", headers={"Origin": "https://evil.example", **admin.headers}
    )
    assert read.is_success


def test_the_agent_channel_refuses_a_page_of_another_site(
    app_client: TestClient, make_user: MakeUser
) -> None:
    agent = make_user("agent")
    credentials = {"email": agent.email, "password": PASSWORD}
    signed = app_client.post("/api/v1/auth/login", json=credentials)
    assert signed.status_code == 200
    with pytest.raises(WebSocketDisconnect) as refused:
        with app_client.websocket_connect(
            "/api/v1/agent/ws", headers={"Origin": "https://evil.example"}
        ) as socket:
            socket.receive_json()
    assert refused.value.code == 4403
    # The workspace's own page opens it with the same cookie.
    with app_client.websocket_connect(
        "/api/v1/agent/ws", headers={"Origin": "http://testserver"}
    ) as socket:
        assert socket.receive_json()["type"] == "hello"
