"""A floor for tests that walk the whole API: the demo data, one of each object the API
manages, a token per role, and, for every path parameter, the id of an object that exists
(so that a request reaches the code behind the 404)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from callhopper import security
from callhopper.api.app import create_app
from callhopper.clock import FrozenClock
from callhopper.core.users import UserService
from callhopper.demo import create_demo
from callhopper.domain.actors import SYSTEM
from callhopper.settings import Settings
from callhopper.store.db import Database
from callhopper.store.uow import SqlUnitOfWork
from tests.conftest import T0

#: The demo user that stands for each built-in role.
ROLE_EMAILS = {
    "admin": "admin@demo.callhopper.dev",
    "supervisor": "supervisor@demo.callhopper.dev",
    "agent": "alice@demo.callhopper.dev",
}


@dataclass
class Floor:
    app: FastAPI
    client: TestClient
    tokens: dict[str, str]
    #: Path parameter → an existing object's id (or, for a name several paths share,
    #: path prefix → id).
    path_ids: dict[str, Any]

    def headers(self, role: str | None) -> dict[str, str]:
        """The credentials of ``role`` (none for ``None``)."""
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    def path_id(self, name: str, path: str, generated: Any) -> Any:
        """The id to put in ``path`` for parameter ``name`` (``generated`` when none)."""
        known = self.path_ids.get(name, generated)
        if isinstance(known, dict):
            return next((v for prefix, v in known.items() if path.startswith(prefix)), generated)
        return known

    def url(self, path: str) -> str:
        """``path`` (a template of the OpenAPI schema) with every parameter filled in."""
        parts = path.split("/")
        filled = [str(self.path_id(p[1:-1], path, p)) if p.startswith("{") else p for p in parts]
        return "/".join(filled)


def _create(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/api/v1{path}", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@contextmanager
def open_floor(url: str) -> Iterator[Floor]:
    """The floor on the migrated database at ``url``, served in process."""
    db = Database(url)
    clock = FrozenClock(T0)
    create_demo(db, T0)
    users = UserService(SqlUnitOfWork(db), clock, security.Argon2PasswordHasher())
    tokens = {}
    for role, email in ROLE_EMAILS.items():
        found = users.user_by_email(email)
        assert found is not None
        tokens[role] = users.create_token(SYSTEM, found.user.user_id, "walk").secret
    telephony = users.create_user(
        SYSTEM, email="pbx@demo.callhopper.dev", display_name="PBX", role="telephony", password=None
    ).user
    tokens["telephony"] = users.create_token(SYSTEM, telephony.user_id, "walk").secret
    bob = users.user_by_email("bob@demo.callhopper.dev")
    assert bob is not None
    bob_token = users.create_token(SYSTEM, bob.user.user_id, "to revoke")
    app = create_app(Settings(database_url=url, import_workers=0), db, clock)
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {tokens['admin']}"
        dnc = _create(client, "/dnc-lists", {"name": "Walk opted out"})
        route = _create(
            client, "/inbound-routes", {"number": "6025550199", "fallback": "voicemail"}
        )
        rule = _create(
            client,
            "/workflow-rules",
            {"name": "Walk", "trigger": {"codes": ["sale"]}, "actions": [{"type": "clear_owner"}]},
        )
        stale = _create(client, "/staleness-rules", {"name": "Walk", "owner_deactivated": True})
        wrapup = _create(client, "/wrapup-code-sets", {"name": "Walk codes"})
        skill = _create(client, "/skills", {"name": "Walk", "expression": 'state == "AZ"'})
        _create(client, "/roles", {"name": "walkrole", "based_on": "agent"})
        del client.headers["Authorization"]
        yield Floor(
            app=app,
            client=client,
            tokens=tokens,
            path_ids={
                "campaign_id": 1,
                "list_id": 1,
                "queue_id": 1,
                "record_id": 1,
                "import_id": 1,
                # Never the caller's own account or token: the walk must not lock itself out.
                "user_id": "bob",
                "token_id": bob_token.token.id,
                "name": "walkrole",
                "skill_id": skill["id"],
                "set_id": wrapup["id"],
                "dnc_list_id": dnc["id"],
                "route_id": route["id"],
                "rule_id": {
                    "/api/v1/workflow-rules": rule["id"],
                    "/api/v1/staleness-rules": stale["id"],
                },
                "webhook_id": 1,
                "channel": "voice",
            },
        )
    db.dispose()
