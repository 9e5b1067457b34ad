"""What the workspace's page tests set up through the HTTP API, as the demo's admin: agents,
queues, small contact lists and campaigns of each delivery mode."""

from __future__ import annotations

import re
from typing import Any

import httpx

from callhopper.demo import DEMO_PASSWORD, DOMAIN

ADMIN = f"admin@{DOMAIN}"
ALL_DAY = {"start": "00:00", "end": "24:00"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Admin:
    """The demo admin on the HTTP API (a session cookie, as a browser would hold)."""

    def __init__(self, url: str, transport: httpx.BaseTransport | None = None) -> None:
        self.http = httpx.Client(base_url=url, transport=transport, timeout=30)
        self.ok("POST", "/auth/login", {"email": ADMIN, "password": DEMO_PASSWORD})
        self._phones = 0

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, f"/api/v1{path}", json=body)
        assert response.is_success, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def agent(self, login: str) -> str:
        """A new agent ``login@…`` with the demo password; returns the email."""
        email = f"{login}@{DOMAIN}"
        self.ok(
            "POST",
            "/users",
            {
                "email": email,
                "display_name": f"{login.title()} Agent",
                "role": "agent",
                "password": DEMO_PASSWORD,
                "user_id": login,
            },
        )
        return email

    def queue(self, name: str, members: list[str]) -> int:
        queue = self.ok("POST", "/queues", {"name": name})
        self.ok("POST", f"/queues/{queue['id']}/members", {"user_ids": members})
        return int(queue["id"])

    def contact_list(self, name: str, rows: int) -> int:
        """A list of ``rows`` accounts in Phoenix, each with a cell and a home number."""
        created = self.ok(
            "POST",
            "/contact-lists",
            {
                "name": name,
                "columns": [
                    "account",
                    "cell",
                    "home",
                    {"name": "notes", "editable": True},
                    {"name": "paid", "type": "checkbox", "editable": True},
                ],
                "phone_columns": [{"column": "cell", "type": "cell"}, "home"],
                "key_column": "account",
                "default_timezone": "America/Phoenix",
            },
        )
        records = []
        for n in range(rows):
            self._phones += 2
            records.append(
                {
                    "account": f"{name[:3].upper()}-{n:03d}",
                    "cell": f"(602) 555-{self._phones:04d}",
                    "home": f"(602) 556-{self._phones:04d}",
                }
            )
        self.ok("POST", f"/contact-lists/{created['id']}/records", {"records": records})
        return int(created["id"])

    def campaign(self, name: str, queue_id: int, mode: str, rows: int = 4, **settings: Any) -> int:
        """A campaign of ``mode`` over a list of its own, not started."""
        list_id = self.contact_list(f"{name} list", rows)
        created = self.ok(
            "POST",
            "/campaigns",
            {
                "name": name,
                "description": f"{mode} campaign of the page tests",
                "list_id": list_id,
                "queue_id": queue_id,
                "mode": mode,
                "sort": [{"column": "account"}],
                "calling_window": ALL_DAY,
                "settings": settings,
            },
        )
        return int(created["id"])

    def start(self, campaign_id: int) -> None:
        self.ok("POST", f"/campaigns/{campaign_id}/start")

    def record(self, list_id: int, record_id: int) -> dict[str, Any]:
        return dict(self.ok("GET", f"/contact-lists/{list_id}/records/{record_id}"))

    def close(self) -> None:
        self.http.close()


def csrf_token(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def signed_in(url: str, email: str) -> httpx.Client:
    """A client signed in through the sign-in form, as a browser without scripts would."""
    client = httpx.Client(base_url=url, timeout=30)
    form = client.get("/signin")
    response = client.post(
        "/signin",
        data={"csrf_token": csrf_token(form.text), "email": email, "password": DEMO_PASSWORD},
    )
    assert response.status_code == 303, response.text
    return client
