"""Workflow rules and the webhook outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callhopper.api.app import create_app
from callhopper.clock import FrozenClock
from callhopper.core.webhooks import (
    BACKOFF_CAP_S,
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    WebhookSender,
    WebhookWorker,
    backoff_s,
    body_of,
    verify_signature,
)
from callhopper.core.workflows import WorkflowService
from callhopper.domain.webhooks import WebhookStage
from callhopper.domain.workflows import FiredAction
from callhopper.settings import Settings
from callhopper.store import users, workflows
from callhopper.store.db import Database
from callhopper.store.models import Record, WebhookMessage
from callhopper.store.uow import SqlUnitOfWork
from callhopper.webhook_poster import HttpxWebhookPoster
from tests.campaign_helpers import (
    agents,
    done,
    get_record,
    make_campaign,
    make_list,
    make_queue,
    owned_rows,
    start,
)
from tests.support import MakeUser, Person

API = "/api/v1"


# --- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture
def wf_api(
    settings: Settings, db: Database, clock: FrozenClock, admin: Person
) -> Iterator[TestClient]:
    """An admin API client."""
    with TestClient(create_app(settings, db, clock)) as client:
        client.headers.update(admin.headers)
        yield client


@dataclass
class Floor:
    """A general (ownerless) list dialled by one campaign, with agent ``ann``."""

    list_id: int
    campaign_id: int
    ann: Person


def floor(api: TestClient, make_user: MakeUser, records: int = 2) -> Floor:
    """A running campaign of ``records`` ownerless leads, worked by agent ann.

    Most tests work a record (Done through the agent API) before they create their rules,
    then fire the rules by hand as Done does, to look at what ``fire`` returns;
    ``test_done_fires_rules_and_wakes_the_sender`` checks that Done itself fires them.
    """
    (ann,) = agents(make_user, "ann")
    list_id = make_list(api, owned_rows([""] * records))
    campaign_id = make_campaign(
        api, list_id, make_queue(api, [ann]), agent_owned_column=None, sort=[{"column": "account"}]
    )
    start(api, campaign_id)
    return Floor(list_id, campaign_id, ann)


def create_rule(api: TestClient, name: str, codes: list[str], actions: list[Any]) -> dict[str, Any]:
    response = api.post(
        f"{API}/workflow-rules",
        json={"name": name, "trigger": {"codes": codes}, "actions": actions},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def work(api: TestClient, f: Floor, code: str) -> int:
    """ann gets the next record and finishes it with ``code``; returns the record id."""
    delivery = get_record(api, f.ann, f.campaign_id)
    assert delivery is not None
    done(api, f.ann, f.campaign_id, delivery["record_id"], code=code)
    return int(delivery["record_id"])


def fire(
    db: Database, clock: FrozenClock, f: Floor, record_id: int, code: str
) -> list[FiredAction]:
    """What the dispenser's Done will do: fire the rules in a write transaction, as ann."""
    with db.write() as session:
        return fire_in(session, clock, f, record_id, code)


def fire_in(
    session: Session, clock: FrozenClock, f: Floor, record_id: int, code: str
) -> list[FiredAction]:
    user = users.get_user(session, f.ann.user_id)
    return workflows.fire(
        session,
        users.actor_of(session, user),
        campaign_id=f.campaign_id,
        campaign_name="Collections",
        record_id=record_id,
        code=code,
        agent_id=user.id,
        agent_user_id=user.user_id,
        now=clock.now(),
    )


def record_of(api: TestClient, f: Floor, record_id: int) -> dict[str, Any]:
    response = api.get(f"{API}/contact-lists/{f.list_id}/records/{record_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def audit_of(api: TestClient, action: str, record_id: int) -> list[dict[str, Any]]:
    response = api.get(f"{API}/audit", params={"action": action, "target_id": str(record_id)})
    assert response.status_code == 200, response.text
    return list(response.json())


def outcomes(fired: list[FiredAction]) -> list[tuple[str, str]]:
    return [(a.type, a.outcome) for a in fired]


@dataclass
class Hook:
    """A real local HTTP endpoint answering the given statuses in turn (the last repeats)."""

    statuses: list[int]
    #: Called for each request before it is answered (e.g. to look at the database).
    on_request: Callable[[dict[str, str], bytes], None] | None = None
    delay_s: float = 0.0
    url: str = ""
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        if self.on_request is not None:
            self.on_request(headers, body)
        with self.lock:
            self.requests.append((headers, body))
            return self.statuses[min(len(self.requests), len(self.statuses)) - 1]


@contextmanager
def hook_server(hook: Hook) -> Iterator[Hook]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if hook.delay_s:
                time.sleep(hook.delay_s)
            status = hook.answer({k.lower(): v for k, v in self.headers.items()}, body)
            reply = b"ok" if status < 300 else b"endpoint says no"
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/callhopper"
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def outbox(db: Database) -> list[WebhookMessage]:
    with db.read() as session:
        return list(session.scalars(select(WebhookMessage).order_by(WebhookMessage.id)))


# --- actions ---------------------------------------------------------------------------------


def test_set_owner_to_agent_makes_the_submitting_agent_the_owner(
    wf_api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    f = floor(wf_api, make_user)
    record_id = work(wf_api, f, "interested")
    create_rule(
        wf_api, "Interested leads stay", ["interested", "sale"], [{"type": "set_owner_to_agent"}]
    )
    assert record_of(wf_api, f, record_id)["owner_user_id"] is None

    fired = fire(db, clock, f, record_id, "interested")

    assert outcomes(fired) == [("set_owner_to_agent", "applied")]
    assert record_of(wf_api, f, record_id)["owner_user_id"] == "ann"
    (entry,) = audit_of(wf_api, "record.owner", record_id)
    assert entry["actor"] == "ann"
    assert entry["before"] == {"owner_user_id": None}
    assert entry["after"] == {"owner_user_id": "ann"}
    assert entry["reason"].startswith("workflow rule 'Interested leads stay'")
    # Firing again changes and audits nothing; other codes do not match.
    assert outcomes(fire(db, clock, f, record_id, "sale")) == [("set_owner_to_agent", "unchanged")]
    assert fire(db, clock, f, record_id, "busy") == []
    assert len(audit_of(wf_api, "record.owner", record_id)) == 1


def test_rules_apply_only_to_their_campaigns_and_when_enabled(
    wf_api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    f = floor(wf_api, make_user)
    record_id = work(wf_api, f, "interested")
    rule = create_rule(wf_api, "Elsewhere", ["interested"], [{"type": "set_owner_to_agent"}])
    other = make_campaign(
        wf_api,
        f.list_id,
        make_queue(wf_api, [], name="Other"),
        name="Other",
        agent_owned_column=None,
    )
    patched = wf_api.patch(
        f"{API}/workflow-rules/{rule['id']}",
        json={"trigger": {"codes": ["interested"], "campaign_ids": [other]}},
    )
    assert patched.status_code == 200, patched.text
    assert fire(db, clock, f, record_id, "interested") == []
    wf_api.patch(
        f"{API}/workflow-rules/{rule['id']}",
        json={
            "trigger": {"codes": ["interested"], "campaign_ids": [f.campaign_id]},
            "enabled": False,
        },
    )
    assert fire(db, clock, f, record_id, "interested") == []
    wf_api.patch(f"{API}/workflow-rules/{rule['id']}", json={"enabled": True})
    assert outcomes(fire(db, clock, f, record_id, "interested")) == [
        ("set_owner_to_agent", "applied")
    ]


def test_clear_owner_returns_the_lead_to_the_general_pool(
    wf_api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    f = floor(wf_api, make_user)
    record_id = work(wf_api, f, "interested")
    create_rule(wf_api, "Keep", ["interested"], [{"type": "set_owner_to_agent"}])
    create_rule(wf_api, "Release", ["not_interested"], [{"type": "clear_owner"}])
    fire(db, clock, f, record_id, "interested")
    assert record_of(wf_api, f, record_id)["owner_user_id"] == "ann"

    fired = fire(db, clock, f, record_id, "not_interested")

    assert outcomes(fired) == [("clear_owner", "applied")]
    assert record_of(wf_api, f, record_id)["owner_user_id"] is None
    latest = audit_of(wf_api, "record.owner", record_id)[0]
    assert (latest["before"], latest["after"]) == (
        {"owner_user_id": "ann"},
        {"owner_user_id": None},
    )
    assert latest["reason"].startswith("workflow rule 'Release'")
    assert outcomes(fire(db, clock, f, record_id, "not_interested")) == [
        ("clear_owner", "unchanged")
    ]


def test_set_field_sets_columns_and_reports_those_it_skips(
    wf_api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    f = floor(wf_api, make_user)
    record_id = work(wf_api, f, "interested")
    create_rule(
        wf_api,
        "Hot",
        ["interested"],
        [
            {"type": "set_field", "field": "notes", "value": "hot lead"},
            {"type": "set_field", "field": "status", "value": "hot"},  # not a column
            {"type": "set_field", "field": "paid", "value": True},  # a checkbox
            {"type": "set_field", "field": "balance", "value": "a lot"},  # not a number
            {"type": "set_field", "field": "phone", "value": "(602) 555-0100"},  # feeds dialling
        ],
    )
    before = record_of(wf_api, f, record_id)["data"]

    fired = fire(db, clock, f, record_id, "interested")

    assert outcomes(fired) == [
        ("set_field", "applied"),
        ("set_field", "skipped"),
        ("set_field", "applied"),
        ("set_field", "skipped"),
        ("set_field", "skipped"),
    ]
    assert "'status' is not a column" in fired[1].detail
    assert "not a number" in fired[3].detail
    assert "phone column" in fired[4].detail
    data = record_of(wf_api, f, record_id)["data"]
    assert data == {**before, "notes": "hot lead", "paid": "true"}
    edits = audit_of(wf_api, "record.edit", record_id)
    assert {k: v for e in edits for k, v in e["after"].items()} == {
        "notes": "hot lead",
        "paid": "true",
    }
    assert all(e["actor"] == "ann" and e["reason"].startswith("workflow rule 'Hot'") for e in edits)
    assert outcomes(fire(db, clock, f, record_id, "interested"))[0] == ("set_field", "unchanged")


def test_a_webhook_is_queued_in_the_callers_transaction(
    wf_api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    f = floor(wf_api, make_user)
    record_id = work(wf_api, f, "interested")
    rule = create_rule(
        wf_api,
        "Tell the CRM",
        ["interested"],
        [
            {"type": "set_owner_to_agent"},
            {"type": "set_field", "field": "notes", "value": "call back"},
            {"type": "webhook", "url": "https://crm.example.com/hooks"},
        ],
    )

    # The wrap-up's transaction fails after the rule fired: nothing of it remains.
    with pytest.raises(RuntimeError, match="Done failed"), db.write() as session:
        fired = fire_in(session, clock, f, record_id, "interested")
        assert fired[2].webhook_id is not None
        raise RuntimeError("Done failed")
    assert outbox(db) == []
    assert record_of(wf_api, f, record_id)["owner_user_id"] is None
    assert audit_of(wf_api, "record.owner", record_id) == []

    fired = fire(db, clock, f, record_id, "interested")

    (message,) = outbox(db)
    assert fired[2] == FiredAction(
        rule["id"],
        "Tell the CRM",
        2,
        "webhook",
        "applied",
        f"webhook {message.id} queued",
        message.id,
    )
    assert (message.status, message.attempts, message.url) == (
        "pending",
        0,
        "https://crm.example.com/hooks",
    )
    assert message.next_attempt_at == clock.now()
    data = record_of(wf_api, f, record_id)["data"]
    assert message.payload == {
        "event": "wrapup",
        "rule": {"id": rule["id"], "name": "Tell the CRM"},
        "campaign": {"id": f.campaign_id, "name": "Collections"},
        "record_id": record_id,
        "list_id": f.list_id,
        "code": "interested",
        "agent_user_id": "ann",
        "owner_before": None,
        "owner_after": "ann",
        "data": data,
        "at": clock.now().isoformat(),
    }
    assert data["notes"] == "call back"


# --- rules through the API -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"actions": []}, "actions", "at least one action"),
        ({"actions": [{"type": "clear_owner"}, {"type": "explode"}]}, "actions[1].type",
         "unknown action type 'explode'"),
        ({"actions": [{"type": "set_field", "field": " ", "value": "x"}]}, "actions[0].field",
         "name the field"),
        ({"actions": [{"type": "set_field", "field": "status"}]}, "actions[0].value",
         "give the value"),
        ({"actions": [{"type": "set_field", "field": "s", "value": {"a": 1}}]},
         "actions[0].value", "string, number, boolean or null"),
        ({"actions": [{"type": "webhook", "url": "ftp://example.com/x"}]}, "actions[0].url",
         "not an http:// or https:// URL"),
        ({"actions": [{"type": "webhook"}]}, "actions[0].url", "give the URL"),
        ({"actions": [{"type": "clear_owner", "url": "https://x.example"}]}, "actions[0].url",
         "not a setting of a clear_owner action"),
        ({"trigger": {"codes": []}}, "trigger.codes", "at least one wrap-up code"),
        ({"trigger": {"codes": ["interested", "intrested"]}}, "trigger.codes[1]",
         "'intrested' is not a wrap-up code of any wrap-up code set"),
        ({"trigger": {"codes": ["Sale!"]}}, "trigger.codes[0]", "is not a wrap-up code"),
        ({"trigger": {"codes": ["sale"], "campaign_ids": [999]}}, "trigger.campaign_ids[0]",
         "no campaign 999"),
        ({"name": "  "}, "name", "the name is empty"),
    ],
)  # fmt: skip
def test_invalid_rules_are_refused_naming_the_field(
    wf_api: TestClient, body: dict[str, Any], field: str, message: str
) -> None:
    rule = {
        "name": "Rule",
        "trigger": {"codes": ["interested"]},
        "actions": [{"type": "set_owner_to_agent"}],
        **body,
    }
    response = wf_api.post(f"{API}/workflow-rules", json=rule)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["details"]["field"] == field
    assert message in error["message"]


def test_rules_crud_secret_and_rotation(
    wf_api: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    created = create_rule(wf_api, "Keep", ["interested"], [{"type": "set_owner_to_agent"}])
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert created["trigger"] == {"codes": ["interested"], "campaign_ids": []}
    duplicate = wf_api.post(
        f"{API}/workflow-rules",
        json={"name": "Keep", "trigger": {"codes": ["sale"]}, "actions": [{"type": "clear_owner"}]},
    )
    assert duplicate.status_code == 409, duplicate.text

    listed = wf_api.get(f"{API}/workflow-rules").json()
    assert [r["name"] for r in listed] == ["Keep"] and "secret" not in listed[0]
    assert wf_api.get(f"{API}/workflow-rules/{created['id']}").json()["secret"] == secret

    clock.advance(timedelta(minutes=1))
    rotated = wf_api.post(f"{API}/workflow-rules/{created['id']}/rotate-secret").json()
    assert rotated["secret"] != secret
    assert wf_api.get(f"{API}/workflow-rules/{created['id']}").json()["secret"] == rotated["secret"]

    patched = wf_api.patch(
        f"{API}/workflow-rules/{created['id']}",
        json={"name": "Keep them", "actions": [{"type": "webhook", "url": "https://x.example/h"}]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["actions"] == [{"type": "webhook", "url": "https://x.example/h"}]
    bad = wf_api.patch(
        f"{API}/workflow-rules/{created['id']}", json={"actions": [{"type": "nope"}]}
    )
    assert bad.json()["error"]["details"]["field"] == "actions[0].type"

    entries = wf_api.get(f"{API}/audit", params={"action": "workflow_rule."}).json()
    assert [e["action"] for e in entries] == [
        "workflow_rule.update",
        "workflow_rule.rotate_secret",
        "workflow_rule.create",
    ]
    assert secret not in json.dumps(entries) and rotated["secret"] not in json.dumps(entries)

    assert wf_api.delete(f"{API}/workflow-rules/{created['id']}").status_code == 204
    assert wf_api.get(f"{API}/workflow-rules/{created['id']}").status_code == 404

    (agent,) = agents(make_user, "ann")
    denied = wf_api.get(f"{API}/workflow-rules", headers=agent.headers)
    assert denied.status_code == 403
    assert wf_api.get(f"{API}/webhooks", headers=agent.headers).status_code == 403


# --- delivery --------------------------------------------------------------------------------


def test_delivery_retries_with_backoff_and_signs_each_attempt(
    wf_api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    f = floor(wf_api, make_user)
    record_id = work(wf_api, f, "interested")
    owners_seen: list[int | None] = []

    def look_at_the_record(headers: dict[str, str], body: bytes) -> None:
        # From another connection, as the CRM would: the wrap-up's change is committed. And
        # in a write transaction locking the message: had the sender kept its claim open
        # during the POST, this would wait for it (and the sender would time out).
        message_id = int(headers[DELIVERY_HEADER.lower()])
        with db.write() as session:
            session.execute(
                select(WebhookMessage.id).where(WebhookMessage.id == message_id).with_for_update()
            )
            record_id = json.loads(body)["record_id"]
            owners_seen.append(
                session.scalar(select(Record.owner_id).where(Record.id == record_id))
            )

    with hook_server(Hook([500, 500, 200], on_request=look_at_the_record)) as hook:
        rule = create_rule(
            wf_api,
            "Tell",
            ["interested"],
            [{"type": "set_owner_to_agent"}, {"type": "webhook", "url": hook.url}],
        )
        fire(db, clock, f, record_id, "interested")
        sender = WebhookSender(SqlUnitOfWork(db), clock, HttpxWebhookPoster(), timeout_s=5)

        assert sender.run_once(clock.now()) == 1  # 500
        assert sender.run_once(clock.now()) == 0  # not due again yet
        (message,) = outbox(db)
        assert (message.status, message.attempts) == ("pending", 1)
        assert message.last_error == "HTTP 500: endpoint says no"
        assert message.next_attempt_at == clock.now() + timedelta(seconds=10)
        clock.advance(timedelta(seconds=9))
        assert sender.run_once(clock.now()) == 0
        clock.advance(timedelta(seconds=1))
        assert sender.run_once(clock.now()) == 1  # 500 again: next in 30 s
        (message,) = outbox(db)
        assert message.next_attempt_at == clock.now() + timedelta(seconds=30)
        clock.advance(timedelta(seconds=30))
        assert sender.run_once(clock.now()) == 1  # 200

    (message,) = outbox(db)
    assert (message.status, message.attempts, message.sent_at) == ("sent", 3, clock.now())
    assert message.last_error == ""
    assert len(hook.requests) == 3
    secret = wf_api.get(f"{API}/workflow-rules/{rule['id']}").json()["secret"]
    ann_id = db_user_id(db, "ann")
    assert owners_seen == [ann_id] * 3
    for headers, body in hook.requests:
        assert headers["content-type"] == "application/json"
        assert headers[DELIVERY_HEADER.lower()] == str(message.id)
        assert verify_signature(secret, body, headers[SIGNATURE_HEADER.lower()])
        assert not verify_signature("whsec_wrong", body, headers[SIGNATURE_HEADER.lower()])
        assert body == body_of(message.payload)
        assert json.loads(body)["owner_after"] == "ann"


def db_user_id(db: Database, user_id: str) -> int:
    with db.read() as session:
        return users.get_user(session, user_id).id


def test_a_failing_endpoint_ends_failed_and_can_be_retried(
    wf_api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    f = floor(wf_api, make_user)
    record_id = work(wf_api, f, "interested")
    with hook_server(Hook([503])) as hook:
        rule = create_rule(wf_api, "Tell", ["interested"], [{"type": "webhook", "url": hook.url}])
        fire(db, clock, f, record_id, "interested")
        sender = WebhookSender(
            SqlUnitOfWork(db), clock, HttpxWebhookPoster(), max_attempts=4, timeout_s=5
        )
        for _ in range(4):
            assert sender.run_once(clock.now()) == 1
            clock.advance(timedelta(seconds=BACKOFF_CAP_S))
        assert sender.run_once(clock.now()) == 0
        assert len(hook.requests) == 4

        failed = wf_api.get(f"{API}/webhooks", params={"status": "failed"}).json()
        assert [
            (m["rule_id"], m["status"], m["attempts"], m["next_attempt_at"]) for m in failed
        ] == [(rule["id"], "failed", 4, None)]
        assert failed[0]["last_error"] == "HTTP 503: endpoint says no"
        assert failed[0]["payload"]["record_id"] == record_id
        assert wf_api.get(f"{API}/webhooks", params={"status": "pending"}).json() == []
        assert len(wf_api.get(f"{API}/webhooks", params={"rule_id": rule["id"]}).json()) == 1
        bad = wf_api.get(f"{API}/webhooks", params={"status": "lost"})
        assert bad.status_code == 422

        retried = wf_api.post(f"{API}/webhooks/{failed[0]['id']}/retry")
        assert retried.status_code == 200, retried.text
        assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
        again = wf_api.post(f"{API}/webhooks/{failed[0]['id']}/retry")
        assert again.status_code == 409
        hook.statuses = [200]
        assert sender.run_once(clock.now()) == 1
    assert wf_api.get(f"{API}/webhooks").json()[0]["status"] == "sent"
    assert wf_api.post(f"{API}/webhooks/999/retry").status_code == 404


def test_an_unreachable_endpoint_is_an_attempt_with_its_error(
    wf_api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    f = floor(wf_api, make_user)
    record_id = work(wf_api, f, "interested")
    create_rule(
        wf_api, "Tell", ["interested"], [{"type": "webhook", "url": f"http://127.0.0.1:{port}/h"}]
    )
    fire(db, clock, f, record_id, "interested")
    assert (
        WebhookSender(SqlUnitOfWork(db), clock, HttpxWebhookPoster(), timeout_s=5).run_once(
            clock.now()
        )
        == 1
    )
    (message,) = outbox(db)
    assert (message.status, message.attempts) == ("pending", 1)
    assert message.last_error.startswith("ConnectError")


def test_deleting_a_rule_fails_its_pending_messages(
    wf_api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    f = floor(wf_api, make_user)
    record_id = work(wf_api, f, "interested")
    rule = create_rule(
        wf_api, "Tell", ["interested"], [{"type": "webhook", "url": "https://crm.example.com/h"}]
    )
    fire(db, clock, f, record_id, "interested")
    assert wf_api.delete(f"{API}/workflow-rules/{rule['id']}").status_code == 204
    (message,) = wf_api.get(f"{API}/webhooks", params={"status": "failed"}).json()
    assert message["rule_id"] is None
    assert "was deleted before the message was sent" in message["last_error"]
    assert wf_api.post(f"{API}/webhooks/{message['id']}/retry").status_code == 409


def test_two_senders_never_send_one_message_twice(
    wf_api: TestClient, make_user: MakeUser, db: Database, db_url: str, clock: FrozenClock
) -> None:
    f = floor(wf_api, make_user)
    record_id = work(wf_api, f, "interested")
    with hook_server(Hook([200], delay_s=0.005)) as hook:
        create_rule(wf_api, "Tell", ["interested"], [{"type": "webhook", "url": hook.url}])
        with db.write() as session:
            for _ in range(60):
                fire_in(session, clock, f, record_id, "interested")
        barrier = threading.Barrier(2)
        sent: list[int] = []
        errors: list[BaseException] = []

        def sender() -> None:
            own = Database(db_url)
            try:
                worker = WebhookSender(
                    SqlUnitOfWork(own), clock, HttpxWebhookPoster(), batch_size=4, timeout_s=5
                )
                barrier.wait()
                while (n := worker.run_once(clock.now())) > 0:
                    sent.append(n)
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)
            finally:
                own.dispose()

        threads = [threading.Thread(target=sender) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert errors == []
    deliveries = [headers[DELIVERY_HEADER.lower()] for headers, _ in hook.requests]
    assert len(deliveries) == 60 == len(set(deliveries)) == sum(sent)
    with db.read() as session:
        assert session.scalar(select(func.count()).where(WebhookMessage.status == "sent")) == 60


def test_the_worker_wakes_on_new_work_and_stops_cleanly(
    wf_api: TestClient, make_user: MakeUser, db: Database, clock: FrozenClock
) -> None:
    f = floor(wf_api, make_user)
    record_id = work(wf_api, f, "interested")
    with hook_server(Hook([200])) as hook:
        create_rule(wf_api, "Tell", ["interested"], [{"type": "webhook", "url": hook.url}])
        worker = WebhookWorker(
            WebhookSender(SqlUnitOfWork(db), clock, HttpxWebhookPoster(), timeout_s=5), poll_s=3600
        )
        thread = threading.Thread(target=worker.run)
        thread.start()
        try:
            fire(db, clock, f, record_id, "interested")
            worker.wake()  # after the commit, as the dispenser's Done will
            deadline = time.monotonic() + 10
            while not hook.requests and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(hook.requests) == 1
        finally:
            worker.stop()
            thread.join(timeout=10)
        assert not thread.is_alive()
    assert outbox(db)[0].status == "sent"


def test_run_forever_stops_without_a_wake_up(db: Database, clock: FrozenClock) -> None:
    stop, wake = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=WebhookSender(SqlUnitOfWork(db), clock, HttpxWebhookPoster()).run_forever,
        args=(stop, wake, 3600),
    )
    thread.start()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_backoff_grows_threefold_up_to_an_hour() -> None:
    assert [backoff_s(n) for n in range(1, 9)] == [10, 30, 90, 270, 810, 2430, 3600, 3600]
    assert backoff_s(10_000) == BACKOFF_CAP_S


@pytest.fixture
def live(
    settings: Settings, db: Database, clock: FrozenClock, admin: Person
) -> Iterator[TestClient]:
    """An admin client of an application that runs its background jobs (the sender)."""
    with TestClient(create_app(settings, db, clock, background=True)) as client:
        client.headers.update(admin.headers)
        yield client


def test_done_fires_rules_and_wakes_the_sender(live: TestClient, make_user: MakeUser) -> None:
    f = floor(live, make_user)
    with hook_server(Hook([200])) as hook:
        create_rule(
            live,
            "Keep",
            ["interested"],
            [{"type": "set_owner_to_agent"}, {"type": "webhook", "url": hook.url}],
        )
        record_id = work(live, f, "interested")
        assert record_of(live, f, record_id)["owner_user_id"] == "ann"
        deadline = time.monotonic() + 5  # the sender is woken by Done, not by its poll
        while not hook.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(hook.requests) == 1
        assert json.loads(hook.requests[0][1])["record_id"] == record_id


def test_a_failing_rule_rolls_back_the_whole_done(
    wf_api: TestClient, db: Database, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rules run in Done's transaction: when they fail, the wrap-up is not recorded."""
    f = floor(wf_api, make_user)
    create_rule(wf_api, "Keep", ["interested"], [{"type": "set_owner_to_agent"}])
    delivery = get_record(wf_api, f.ann, f.campaign_id)
    assert delivery is not None

    def broken(*_args: object, **_kwargs: object) -> list[FiredAction]:
        raise RuntimeError("rule engine down")

    monkeypatch.setattr(workflows, "fire", broken)
    with pytest.raises(RuntimeError):
        done(wf_api, f.ann, f.campaign_id, delivery["record_id"], code="interested")
    monkeypatch.undo()
    # Still leased to ann, no owner: the Done can be submitted again and fires the rule.
    done(wf_api, f.ann, f.campaign_id, delivery["record_id"], code="interested")
    assert record_of(wf_api, f, delivery["record_id"])["owner_user_id"] == "ann"


def test_code_owner_action_applies_the_wrapup_codes_own_owner_action(
    wf_api: TestClient, make_user: MakeUser
) -> None:
    """One rule over several codes: ``sale`` carries set_owner_to_agent in the default set,
    ``no_answer`` carries nothing."""
    f = floor(wf_api, make_user)
    create_rule(wf_api, "By code", ["sale", "no_answer"], [{"type": "code_owner_action"}])
    unowned = work(wf_api, f, "no_answer")
    assert record_of(wf_api, f, unowned)["owner_user_id"] is None
    owned = work(wf_api, f, "sale")
    assert record_of(wf_api, f, owned)["owner_user_id"] == "ann"


def test_deliveries_filtered_by_stage_page_in_the_database(
    db: Database, clock: FrozenClock
) -> None:
    """Pending and retrying share a status: the stage filter must still fill whole pages,
    not filter a page of both afterwards (the console lists 50 at a time)."""
    now = clock.now()
    with db.write() as session:
        for n in range(120):  # retrying messages, newest first, hide the pending ones
            retried = n >= 60
            session.add(
                WebhookMessage(
                    url="http://127.0.0.1:9/hook",
                    payload={"n": n},
                    attempts=1 if retried else 0,
                    last_error="ConnectError" if retried else "",
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    service = WorkflowService(SqlUnitOfWork(db), clock)
    pending = service.webhooks(stage=WebhookStage.PENDING, limit=50)
    assert len(pending) == 50 and {m.stage for m in pending} == {WebhookStage.PENDING}
    retrying = service.webhooks(stage=WebhookStage.RETRYING, limit=50)
    assert len(retrying) == 50 and {m.stage for m in retrying} == {WebhookStage.RETRYING}
    rest = service.webhooks(stage=WebhookStage.PENDING, before_id=pending[-1].id, limit=50)
    assert len(rest) == 10
    assert service.webhooks(stage=WebhookStage.DELIVERED) == []
