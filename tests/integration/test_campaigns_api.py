"""Campaign definition and life cycle through the API, agent-owned campaigns included."""

from __future__ import annotations

from fastapi.testclient import TestClient

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
from tests.support import MakeUser


def test_create_read_update_delete(api: TestClient, make_user: MakeUser) -> None:
    list_id = make_list(api, owned_rows(["a@example.com"]))
    queue_id = make_queue(api, agents(make_user, "a"))
    campaign_id = make_campaign(
        api, list_id, queue_id, description="Q3 collections", sort=[{"column": "balance"}]
    )
    campaign = api.get(f"/api/v1/campaigns/{campaign_id}").json()
    assert campaign["state"] == "off"
    assert campaign["mode"] == "preview"
    assert campaign["settings"]["lease_timeout_s"] == 1800
    assert campaign["calling_window"] == {
        "start": "00:00",
        "end": "24:00",
        "days": [0, 1, 2, 3, 4, 5, 6],
    }

    changed = api.patch(
        f"/api/v1/campaigns/{campaign_id}",
        json={
            "name": "Renamed",
            "sort": [{"column": "account", "descending": True}],
            "settings": {"lease_timeout_s": 600, "allow_skip": False},
        },
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Renamed"
    assert changed.json()["settings"]["allow_skip"] is False
    assert [c["name"] for c in api.get("/api/v1/campaigns").json()] == ["Renamed"]

    assert api.delete(f"/api/v1/campaigns/{campaign_id}").status_code == 204
    assert api.get(f"/api/v1/campaigns/{campaign_id}").status_code == 404


def test_a_patch_changes_only_the_settings_and_window_fields_it_sends(
    api: TestClient, make_user: MakeUser
) -> None:
    list_id = make_list(api, owned_rows(["a@example.com"]))
    campaign_id = make_campaign(
        api,
        list_id,
        make_queue(api, agents(make_user, "a")),
        settings={"lease_timeout_s": 600, "reinsert_skipped": True},
        calling_window={"start": "09:00", "end": "18:00", "days": [0, 1, 2]},
    )
    url = f"/api/v1/campaigns/{campaign_id}"
    changed = api.patch(url, json={"settings": {"allow_skip": False}})
    assert changed.status_code == 200, changed.text
    settings = changed.json()["settings"]
    assert (settings["allow_skip"], settings["lease_timeout_s"], settings["reinsert_skipped"]) == (
        False,
        600,
        True,
    )
    changed = api.patch(url, json={"calling_window": {"end": "20:00"}})
    assert changed.json()["calling_window"] == {"start": "09:00", "end": "20:00", "days": [0, 1, 2]}
    # Only the merged whole is validated: 21:00 alone would end when it starts (by default).
    overnight = api.patch(url, json={"calling_window": {"start": "21:00"}})
    assert overnight.status_code == 200, overnight.text
    api.patch(url, json={"calling_window": {"start": "09:00"}})
    # The merged whole is validated again, and a refusal changes nothing.
    refused = api.patch(url, json={"calling_window": {"start": "20:00"}, "name": "Other"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"]["field"] == "calling_window"
    assert api.get(url).json()["calling_window"]["start"] == "09:00"
    assert api.get(url).json()["name"] != "Other"


def test_mode_queue_and_owner_column_are_fixed(api: TestClient, make_user: MakeUser) -> None:
    list_id = make_list(api, owned_rows(["a@example.com"]))
    queue_id = make_queue(api, agents(make_user, "a"))
    other_queue = make_queue(api, [], name="Other")
    campaign_id = make_campaign(api, list_id, queue_id)
    url = f"/api/v1/campaigns/{campaign_id}"
    for body, message in [
        ({"queue_id": other_queue}, "the queue of a campaign cannot be changed"),
        ({"mode": "push_preview"}, "the dialing mode of a campaign cannot be changed"),
        ({"agent_owned_column": "account"}, "the agent-owned column of a campaign cannot"),
        ({"agent_owned_column": None}, "cannot be turned into a non-agent-owned one"),
    ]:
        response = api.patch(url, json=body)
        assert response.status_code == 409, body
        assert message in response.json()["error"]["message"]
    # Sending the current values is not a change.
    assert api.patch(url, json={"queue_id": queue_id, "mode": "preview"}).status_code == 200


def test_sorting_by_the_agent_column_is_refused(api: TestClient, make_user: MakeUser) -> None:
    list_id = make_list(api, owned_rows(["a@example.com"]))
    queue_id = make_queue(api, agents(make_user, "a"))
    response = api.post(
        "/api/v1/campaigns",
        json={
            "name": "C",
            "list_id": list_id,
            "queue_id": queue_id,
            "agent_owned_column": "agent",
            "sort": [{"column": "agent"}],
        },
    )
    assert response.status_code == 422
    assert (
        "cannot be sorted by the agent-owned column 'agent'" in response.json()["error"]["message"]
    )
    unknown = api.post(
        "/api/v1/campaigns",
        json={"name": "C", "list_id": list_id, "queue_id": queue_id, "sort": [{"column": "zz"}]},
    )
    assert "sort column 'zz' is not a column" in unknown.json()["error"]["message"]


def test_invalid_definitions_are_named(api: TestClient, make_user: MakeUser) -> None:
    list_id = make_list(api, owned_rows(["a@example.com"]))
    queue_id = make_queue(api, agents(make_user, "a"))
    base = {"name": "C", "list_id": list_id, "queue_id": queue_id}
    cases = [
        ({"mode": "predictive"}, 422, "needs at least one caller ID"),
        ({"mode": "predictive", "agent_owned_column": "agent"}, 422, "dials for their owner"),
        ({"mode": "progressive", "settings": {"ring_timeout_s": 10}}, 422, "ring_timeout_s"),
        ({"agent_owned_column": "account"}, 422, "agent-owned column is 'agent'"),
        ({"calling_window": {"start": "8am", "end": "21:00"}}, 422, "HH:MM"),
        ({"calling_window": {"start": "09:00", "end": "09:00"}}, 422, "same time"),
        ({"queue_id": 999}, 404, "no queue 999"),
        ({"wrapup_set_id": 999}, 404, "no wrap-up code set 999"),
        ({"settings": {"lease_timeout_s": 5}}, 422, "lease_timeout_s"),
    ]
    for extra, status, message in cases:
        response = api.post("/api/v1/campaigns", json={**base, **extra})
        assert response.status_code == status, (extra, response.text)
        assert message in response.json()["error"]["message"], extra


def test_state_machine(api: TestClient, app_client: TestClient, make_user: MakeUser) -> None:
    (alice,) = agents(make_user, "alice")
    list_id = make_list(api, owned_rows(["alice"] * 3))
    campaign_id = make_campaign(api, list_id, make_queue(api, [alice]))
    url = f"/api/v1/campaigns/{campaign_id}"
    assert api.post(f"{url}/stop").status_code == 409
    recycle_off = api.post(f"{url}/recycle")
    assert recycle_off.status_code == 409
    assert "that is off cannot recycle; it can start" in recycle_off.json()["error"]["message"]
    start(api, campaign_id)
    assert api.post(f"{url}/start").status_code == 409
    held = get_record(app_client, alice, campaign_id)
    assert held is not None
    # Stopping: no new records, the one out may be finished, then complete.
    assert api.post(f"{url}/stop").json()["state"] == "stopping"
    again = get_record(app_client, alice, campaign_id)
    assert again is not None and again["record_id"] == held["record_id"]
    done(app_client, alice, campaign_id, held["record_id"])
    nothing = app_client.post(
        f"/api/v1/agent/campaigns/{campaign_id}/get-record", headers=alice.headers
    ).json()
    assert nothing["delivery"] is None
    assert api.get(url).json()["state"] == "complete"
    assert api.post(f"{url}/start").json()["state"] == "on"


def test_a_running_campaign_cannot_be_deleted_and_history_survives_deletion(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    (alice,) = agents(make_user, "alice")
    list_id = make_list(api, owned_rows(["alice"] * 2))
    campaign_id = make_campaign(api, list_id, make_queue(api, [alice]))
    start(api, campaign_id)
    delivery = get_record(app_client, alice, campaign_id)
    assert delivery is not None
    done(app_client, alice, campaign_id, delivery["record_id"], code="sale")
    refused = api.delete(f"/api/v1/campaigns/{campaign_id}")
    assert refused.status_code == 409
    assert "stop it" in refused.json()["error"]["message"]
    api.post(f"/api/v1/campaigns/{campaign_id}/stop")
    assert api.get(f"/api/v1/campaigns/{campaign_id}").json()["state"] == "complete"
    assert api.delete(f"/api/v1/campaigns/{campaign_id}").status_code == 204

    history = api.get("/api/v1/assignment-history", params={"campaign_id": campaign_id}).json()
    assert len(history) == 1
    entry = history[0]
    assert entry["record_id"] == delivery["record_id"]
    assert entry["agent_user_id"] == "alice"
    assert entry["campaign_name"] == "Collections"
    assert (entry["outcome"], entry["code"]) == ("done", "sale")
    assert entry["released_at"] is not None


def test_resources_in_use_cannot_be_deleted(api: TestClient, make_user: MakeUser) -> None:
    list_id = make_list(api, owned_rows(["a"]))
    queue_id = make_queue(api, agents(make_user, "a"))
    make_campaign(api, list_id, queue_id)
    for path in (
        f"/api/v1/contact-lists/{list_id}",
        f"/api/v1/queues/{queue_id}",
        "/api/v1/wrapup-code-sets/1",
    ):
        response = api.delete(path)
        assert response.status_code == 409, path
        assert "Collections" in response.json()["error"]["message"]


def test_agents_cannot_manage_campaigns(app_client: TestClient, make_user: MakeUser) -> None:
    (alice,) = agents(make_user, "alice")
    assert app_client.get("/api/v1/campaigns", headers=alice.headers).status_code == 403
    assert app_client.post("/api/v1/campaigns/1/start", headers=alice.headers).status_code == 403
    supervisor = make_user("supervisor")
    assert app_client.get("/api/v1/campaigns", headers=supervisor.headers).status_code == 200
    assert (
        app_client.post("/api/v1/campaigns/1/stop", headers=supervisor.headers).status_code == 403
    )


def test_lifecycle_is_audited(api: TestClient, make_user: MakeUser) -> None:
    list_id = make_list(api, owned_rows(["a"]))
    campaign_id = make_campaign(api, list_id, make_queue(api, agents(make_user, "a")))
    start(api, campaign_id)
    api.post(f"/api/v1/campaigns/{campaign_id}/recycle")
    actions = [
        e["action"]
        for e in api.get(
            "/api/v1/audit", params={"target_type": "campaign", "target_id": campaign_id}
        ).json()
    ]
    assert actions == ["campaign.recycle", "campaign.start", "campaign.create"]
