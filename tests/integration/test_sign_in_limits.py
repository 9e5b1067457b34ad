"""Sign-in is rate-limited per account and per client address, in the database (so that
every process counts the same failures); tokens expire and can be revoked; a deactivated
user's tokens and sessions stop working at once."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from callhopper.api.app import create_app
from callhopper.clock import FrozenClock
from callhopper.settings import Settings
from callhopper.store.db import Database
from tests.support import MakeUser, Person

PASSWORD = "correct horse"
LOGIN = "/api/v1/auth/login"


def login(client: TestClient, email: str, password: str) -> int:
    response = client.post(LOGIN, json={"email": email, "password": password})
    return response.status_code


def test_ten_failures_for_an_account_refuse_even_the_right_password_until_the_window_ends(
    app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    agent = make_user("agent", password=PASSWORD)
    for _ in range(10):
        assert login(app_client, agent.email, "wrong password") == 401
    refused = app_client.post(LOGIN, json={"email": agent.email, "password": PASSWORD})
    assert refused.status_code == 429, refused.text
    assert refused.headers["Retry-After"] == "300"
    error = refused.json()["error"]
    assert error["code"] == "too_many_attempts"
    assert "too many failed sign-ins" in error["message"]
    assert error["details"]["retry_after_s"] == 300
    clock.advance(timedelta(seconds=120))
    assert (
        app_client.post(LOGIN, json={"email": agent.email, "password": PASSWORD}).headers[
            "Retry-After"
        ]
        == "180"
    )
    clock.advance(timedelta(seconds=181))
    assert login(app_client, agent.email, PASSWORD) == 200
    # A success clears the account's failures.
    assert login(app_client, agent.email, "wrong password") == 401
    assert login(app_client, agent.email, PASSWORD) == 200


def test_failures_from_one_address_over_many_accounts_are_refused(
    app_client: TestClient, make_user: MakeUser
) -> None:
    victim = make_user("agent", password=PASSWORD)
    for n in range(10):
        assert login(app_client, f"guess{n}@example.com", "x") == 401
    assert login(app_client, victim.email, PASSWORD) == 429


def test_the_count_is_shared_by_every_process_of_one_database(
    settings: Settings, db: Database, clock: FrozenClock, make_user: MakeUser
) -> None:
    agent = make_user("agent", password=PASSWORD)
    with (
        TestClient(create_app(settings, db, clock)) as first,
        TestClient(create_app(settings, Database(settings.database_url), clock)) as second,
    ):
        for n in range(10):
            assert login(first if n % 2 else second, agent.email, "wrong") == 401
        assert login(first, agent.email, PASSWORD) == 429
        assert login(second, agent.email, PASSWORD) == 429


def test_the_sign_in_page_says_why_in_english_and_japanese(
    app_client: TestClient, make_user: MakeUser
) -> None:
    agent = make_user("agent", password=PASSWORD)
    for _ in range(10):
        assert login(app_client, agent.email, "wrong") == 401
    for lang, text in [
        ("en", "Too many failed sign-ins"),
        ("ja", "サインインの失敗が多すぎます"),
    ]:
        app_client.cookies.set("callhopper_lang", lang)
        form = app_client.get("/signin")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        page = app_client.post(
            "/signin",
            data={"csrf_token": token.group(1), "email": agent.email, "password": PASSWORD},
            follow_redirects=False,
        )
        assert page.status_code == 429
        assert page.headers["Retry-After"] == "300"
        assert text in page.text


def test_a_deactivated_users_session_and_token_stop_at_once(
    app_client: TestClient, admin: Person, make_user: MakeUser
) -> None:
    agent = make_user("agent", password=PASSWORD)
    assert login(app_client, agent.email, PASSWORD) == 200
    assert app_client.get("/api/v1/auth/me").status_code == 200  # the session cookie
    assert app_client.get("/api/v1/auth/me", headers=agent.headers).status_code == 200
    deactivated = app_client.post(
        f"/api/v1/users/{agent.user_id}/deactivate", headers=admin.headers
    )
    assert deactivated.status_code == 200
    assert app_client.get("/api/v1/auth/me").status_code == 401
    assert app_client.get("/api/v1/auth/me", headers=agent.headers).status_code == 401


def test_a_token_expires_and_can_be_revoked(
    app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    agent = make_user("agent", password=PASSWORD)
    made = app_client.post(
        "/api/v1/auth/tokens", json={"name": "one day", "expires_in_days": 1}, headers=agent.headers
    ).json()
    short = {"Authorization": f"Bearer {made['token']}"}
    assert app_client.get("/api/v1/auth/me", headers=short).status_code == 200
    clock.advance(timedelta(days=1, seconds=1))
    assert app_client.get("/api/v1/auth/me", headers=short).status_code == 401
    revoked = app_client.delete(f"/api/v1/auth/tokens/{made['id']}", headers=agent.headers)
    assert revoked.status_code == 204
    other = app_client.post("/api/v1/auth/tokens", json={"name": "x"}, headers=agent.headers)
    assert other.status_code == 201
    app_client.delete(f"/api/v1/auth/tokens/{other.json()['id']}", headers=agent.headers)
    gone = {"Authorization": f"Bearer {other.json()['token']}"}
    assert app_client.get("/api/v1/auth/me", headers=gone).status_code == 401
