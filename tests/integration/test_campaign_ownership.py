"""Campaign ownership of records on a list shared by two campaigns."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from callhopper.clock import FrozenClock
from tests.campaign_helpers import (
    account,
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

HOUR = timedelta(hours=1)


def shared_list(
    api: TestClient,
    make_user: MakeUser,
    *,
    records: int = 3,
    ownership: dict[str, Any] | None = None,
) -> tuple[int, int, int, Person, Person]:
    """One list of ``records`` accounts dialled by campaigns A and B (one agent each)."""
    a, b = agents(make_user, "ann", "ben")
    list_id = make_list(api, owned_rows(["x"] * records))
    settings = api.put(
        f"/api/v1/contact-lists/{list_id}/ownership/settings",
        json=ownership or {"enabled": True, "hours": 1},
    )
    assert settings.status_code == 200, settings.text
    campaign_a = make_campaign(
        api,
        list_id,
        make_queue(api, [a], name="QA"),
        name="A",
        agent_owned_column=None,
        sort=[{"column": "account"}],
    )
    campaign_b = make_campaign(
        api,
        list_id,
        make_queue(api, [b], name="QB"),
        name="B",
        agent_owned_column=None,
        sort=[{"column": "account"}],
    )
    start(api, campaign_a)
    start(api, campaign_b)
    return list_id, campaign_a, campaign_b, a, b


def owner_of(api: TestClient, list_id: int, record_id: int) -> str | None:
    record = api.get(f"/api/v1/contact-lists/{list_id}/records/{record_id}").json()
    owner = record["campaign_owner"]
    return owner["campaign_name"] if owner else None


def first(client: TestClient, who: Person, campaign_id: int, code: str) -> dict[str, Any]:
    delivery = get_record(client, who, campaign_id)
    assert delivery is not None
    done(client, who, campaign_id, delivery["record_id"], code=code)
    return delivery


def test_the_first_valid_attempt_takes_ownership_for_the_duration(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    list_id, campaign_a, campaign_b, a, b = shared_list(api, make_user, records=1)
    taken = first(app_client, a, campaign_a, "interested")  # valid, not final, retry in a day
    assert owner_of(api, list_id, taken["record_id"]) == "A"
    clock.advance(59 * timedelta(minutes=1))
    assert get_record(app_client, b, campaign_b) is None  # B is denied the record
    clock.advance(2 * timedelta(minutes=1))  # t0 + 61 min: the ownership has expired
    freed = get_record(app_client, b, campaign_b)
    assert freed is not None and freed["record_id"] == taken["record_id"]
    # B's valid attempt closes A's expired ownership and takes the record, audited.
    done(app_client, b, campaign_b, freed["record_id"], code="interested")
    assert owner_of(api, list_id, freed["record_id"]) == "B"
    claims = api.get(
        "/api/v1/audit",
        params={"action": "ownership.claim", "target_id": str(freed["record_id"])},
    ).json()
    assert [(e["actor"], e["after"]["campaign"]) for e in claims] == [("ben", "B"), ("ann", "A")]
    assert [e["reason"] for e in claims] == ["valid attempt (wrap-up 'interested')"] * 2
    # A's ownership ended on its own: audited as such, with its owner, by the system.
    expired = api.get(
        "/api/v1/audit",
        params={"action": "ownership.expire", "target_id": str(freed["record_id"])},
    ).json()
    assert [(e["actor"], e["before"]["campaign"], e["after"]) for e in expired] == [
        ("system", "A", None)
    ]


def test_a_release_makes_records_available_at_once(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    list_id, campaign_a, campaign_b, a, b = shared_list(api, make_user, records=1)
    taken = first(app_client, a, campaign_a, "interested")
    assert get_record(app_client, b, campaign_b) is None
    released = api.post(
        f"/api/v1/contact-lists/{list_id}/ownership/release", json={"campaign_ids": [campaign_a]}
    )
    assert released.json() == {"released": {str(campaign_a): 1}, "total": 1}
    freed = get_record(app_client, b, campaign_b)
    assert freed is not None and freed["record_id"] == taken["record_id"]


def test_non_valid_attempts_never_take_ownership(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    list_id, campaign_a, campaign_b, a, b = shared_list(api, make_user, records=1)
    busy = first(app_client, a, campaign_a, "busy")  # counts_as_attempt: false
    assert owner_of(api, list_id, busy["record_id"]) is None
    same = get_record(app_client, b, campaign_b)
    assert same is not None and same["record_id"] == busy["record_id"]


def test_recycle_keeps_campaign_ownership(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    list_id, campaign_a, campaign_b, a, b = shared_list(
        api, make_user, records=2, ownership={"enabled": True, "no_expiration": True}
    )
    taken = first(app_client, a, campaign_a, "interested")
    for campaign_id in (campaign_a, campaign_b):
        assert api.post(f"/api/v1/campaigns/{campaign_id}/recycle").status_code == 200
    assert owner_of(api, list_id, taken["record_id"]) == "A"
    other = get_record(app_client, b, campaign_b)
    assert other is not None and other["record_id"] != taken["record_id"]
    done(app_client, b, campaign_b, other["record_id"], code="busy")
    assert get_record(app_client, b, campaign_b) is None


def test_recycle_of_a_campaign_denied_a_record_keeps_it_denied(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    list_id, campaign_a, campaign_b, a, b = shared_list(api, make_user, records=1)
    taken = first(app_client, a, campaign_a, "interested")  # B's copy: blocked for an hour
    for campaign_id in (campaign_b, campaign_a):
        recycled = api.post(f"/api/v1/campaigns/{campaign_id}/recycle")
        assert recycled.status_code == 200, recycled.text
    assert owner_of(api, list_id, taken["record_id"]) == "A"
    assert get_record(app_client, b, campaign_b) is None
    again = get_record(app_client, a, campaign_a)
    assert again is not None and again["record_id"] == taken["record_id"]


def test_a_new_duration_redates_every_current_claim(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    list_id, campaign_a, campaign_b, a, b = shared_list(
        api, make_user, records=2, ownership={"enabled": True, "no_expiration": True}
    )
    old = first(app_client, a, campaign_a, "interested")  # taken at t0, no expiration
    clock.advance(4 * HOUR)
    recent = first(app_client, a, campaign_a, "interested")  # taken at t0 + 4 h
    clock.advance(HOUR)  # t0 + 5 h
    changed = api.put(
        f"/api/v1/contact-lists/{list_id}/ownership/settings", json={"enabled": True, "hours": 3}
    )
    assert changed.status_code == 200
    # The old claim would have ended at t0 + 3 h: it ends at once. The recent one moves
    # from "never" to t0 + 7 h.
    assert owner_of(api, list_id, old["record_id"]) is None
    record = api.get(f"/api/v1/contact-lists/{list_id}/records/{recent['record_id']}").json()
    assert record["campaign_owner"]["expires_at"].startswith("2026-03-02T22:00")
    got = get_record(app_client, b, campaign_b)
    assert got is not None and got["record_id"] == old["record_id"]
    done(app_client, b, campaign_b, got["record_id"], code="callback")  # B owns it now
    assert get_record(app_client, b, campaign_b) is None
    clock.advance(2 * HOUR + timedelta(minutes=1))  # t0 + 7 h 1 min
    later = get_record(app_client, b, campaign_b)
    assert later is not None and later["record_id"] == recent["record_id"]
    redated = api.get("/api/v1/audit", params={"action": "ownership.redate"}).json()
    assert {e["target_id"] for e in redated} == {str(old["record_id"]), str(recent["record_id"])}


def test_an_uncompleted_call_renews_an_ownership_close_to_expiry(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    list_id, campaign_a, campaign_b, a, b = shared_list(
        api, make_user, records=1, ownership={"enabled": True, "hours": 10}
    )
    taken = first(app_client, a, campaign_a, "answering_machine")  # valid; retry in 4 h
    clock.advance(4 * HOUR)
    # Retried with 6 h left: not close to expiry (10% of 10 h = 1 h), no renewal.
    first(app_client, a, campaign_a, "busy")  # retry in 10 min
    record_url = f"/api/v1/contact-lists/{list_id}/records/{taken['record_id']}"
    assert api.get(record_url).json()["campaign_owner"]["expires_at"].startswith("2026-03-03T01:00")
    clock.advance(5 * HOUR + timedelta(minutes=10))  # 50 min left: within the 1 h margin
    first(app_client, a, campaign_a, "no_answer")  # the call could not be completed
    renewed = api.get(record_url).json()["campaign_owner"]["expires_at"]
    assert renewed.startswith("2026-03-03T10:10")  # now + 10 h
    clock.advance(HOUR)  # past the original expiry: B is still denied
    assert get_record(app_client, b, campaign_b) is None
    renewals = api.get("/api/v1/audit", params={"action": "ownership.renew"}).json()
    assert len(renewals) == 1


def test_disabling_keeps_current_claims_and_stops_new_ones(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    list_id, campaign_a, campaign_b, a, b = shared_list(
        api, make_user, records=2, ownership={"enabled": True, "no_expiration": True}
    )
    kept = first(app_client, a, campaign_a, "interested")
    api.put(
        f"/api/v1/contact-lists/{list_id}/ownership/settings",
        json={"enabled": False, "no_expiration": True},
    )
    assert owner_of(api, list_id, kept["record_id"]) == "A"
    unowned = first(app_client, a, campaign_a, "interested")
    assert owner_of(api, list_id, unowned["record_id"]) is None
    got = get_record(app_client, b, campaign_b)
    assert got is not None and got["record_id"] == unowned["record_id"]
    # A new duration applies to the claims a disabled list still has.
    api.put(
        f"/api/v1/contact-lists/{list_id}/ownership/settings",
        json={"hours": 3, "no_expiration": False},
    )
    record = api.get(f"/api/v1/contact-lists/{list_id}/records/{kept['record_id']}").json()
    assert record["campaign_owner"]["expires_at"].startswith("2026-03-02T18:00")


def test_each_setting_sent_alone_changes_only_itself(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    """``{"enabled": false}`` alone keeps the duration and the claims; ``{"enabled": true}``
    alone turns ownership on again with the stored duration."""
    list_id, campaign_a, _campaign_b, a, _b = shared_list(
        api, make_user, records=2, ownership={"enabled": True, "hours": 5}
    )
    url = f"/api/v1/contact-lists/{list_id}/ownership/settings"
    kept = first(app_client, a, campaign_a, "interested")
    record_url = f"/api/v1/contact-lists/{list_id}/records/{kept['record_id']}"
    owned = api.get(record_url).json()["campaign_owner"]
    assert owned is not None

    off = api.put(url, json={"enabled": False})
    assert off.status_code == 200, off.text
    assert off.json() == {"enabled": False, "days": 0, "hours": 5, "no_expiration": False}
    assert api.get(record_url).json()["campaign_owner"] == owned
    assert api.get(f"/api/v1/contact-lists/{list_id}/ownership").json()["total"] == 1

    on = api.put(url, json={"enabled": True})
    assert on.status_code == 200, on.text
    assert on.json() == {"enabled": True, "days": 0, "hours": 5, "no_expiration": False}
    assert api.get(record_url).json()["campaign_owner"] == owned

    longer = api.put(url, json={"days": 1})
    assert longer.json() == {"enabled": True, "days": 1, "hours": 5, "no_expiration": False}
    assert api.get(record_url).json()["campaign_owner"]["expires_at"].startswith("2026-03-03T20:")


def test_a_record_is_never_out_with_two_campaigns_at_once(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    list_id, campaign_a, campaign_b, a, b = shared_list(api, make_user, records=1)
    held_by_b = get_record(app_client, b, campaign_b)
    assert held_by_b is not None
    assert get_record(app_client, a, campaign_a) is None  # out with B's agent
    clock.advance(timedelta(minutes=31))  # B's lease lapses (30 min)
    held_by_a = get_record(app_client, a, campaign_a)
    assert held_by_a is not None and held_by_a["record_id"] == held_by_b["record_id"]
    # B's agent comes back to the lapsed record: it is A's agent's now, not to be dialled.
    refused = app_client.post(
        f"/api/v1/agent/campaigns/{campaign_b}/records/{held_by_b['record_id']}/call",
        json={},
        headers=b.headers,
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "record_out_elsewhere"
    # A's wrap-up takes ownership; B's lapsed lease, if still held, can never dial it.
    done(app_client, a, campaign_a, held_by_a["record_id"], code="interested")
    assert owner_of(api, list_id, held_by_a["record_id"]) == "A"
    assert app_client.get("/api/v1/agent/deliveries", headers=b.headers).json() == []


def test_a_lapsed_lease_cannot_dial_a_record_another_campaign_took(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    _list_id, campaign_a, campaign_b, a, b = shared_list(api, make_user, records=1)
    held_by_b = get_record(app_client, b, campaign_b)
    assert held_by_b is not None
    clock.advance(timedelta(minutes=31))
    held_by_a = get_record(app_client, a, campaign_a)
    assert held_by_a is not None
    done(app_client, a, campaign_a, held_by_a["record_id"], code="interested")  # A owns it
    refused = app_client.post(
        f"/api/v1/agent/campaigns/{campaign_b}/records/{held_by_b['record_id']}/call",
        json={},
        headers=b.headers,
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "owned_by_another_campaign"
    assert app_client.get("/api/v1/agent/deliveries", headers=b.headers).json() == []


def test_ownership_tab_and_tracking_need_the_right(
    api: TestClient, app_client: TestClient, make_user: MakeUser, clock: FrozenClock
) -> None:
    list_id, campaign_a, campaign_b, a, b = shared_list(api, make_user, records=4)
    first(app_client, a, campaign_a, "interested")
    first(app_client, a, campaign_a, "sale")
    first(app_client, b, campaign_b, "not_interested")
    tab = api.get(f"/api/v1/contact-lists/{list_id}/ownership").json()
    assert tab["total"] == 3
    assert [(c["campaign_name"], c["records"]) for c in tab["campaigns"]] == [("A", 2), ("B", 1)]
    report = api.get("/api/v1/reports/campaign-ownership").json()
    assert [(r["campaign_name"], r["owned"], r["expiring_24h"]) for r in report] == [
        ("A", 2, 2),
        ("B", 1, 1),
    ]
    clock.advance(2 * HOUR)
    report = api.get("/api/v1/reports/campaign-ownership", params={"list_id": list_id}).json()
    assert [(r["owned"], r["released_24h"]) for r in report] == [(0, 2), (0, 1)]

    # A list manager without the right sees no ownership data anywhere.
    manager_role = api.post(
        "/api/v1/roles",
        json={
            "name": "lists-only",
            "based_on": "admin",
            "without": ["contact_list.ownership_control"],
        },
    )
    assert manager_role.status_code == 201
    manager = make_user("lists-only")
    for path in (
        f"/api/v1/contact-lists/{list_id}/ownership",
        "/api/v1/reports/campaign-ownership",
    ):
        assert app_client.get(path, headers=manager.headers).status_code == 403
    refused = app_client.post(
        f"/api/v1/contact-lists/{list_id}/ownership/release",
        json={"all": True},
        headers=manager.headers,
    )
    assert refused.status_code == 403
    records = app_client.get(
        f"/api/v1/contact-lists/{list_id}/records", headers=manager.headers
    ).json()
    assert all(r["campaign_owner"] is None for r in records)

    # Nor in the audit log, which the admin reads in full.
    def actions(headers: dict[str, str] | None) -> set[str]:
        entries = app_client.get("/api/v1/audit", params={"limit": 1000}, headers=headers)
        assert entries.status_code == 200
        return {e["action"] for e in entries.json()}

    assert {"ownership.claim", "contact_list.ownership_settings"} <= actions(api.headers)
    seen = actions(manager.headers)
    assert "contact_list.import" in seen
    assert not {a for a in seen if a.startswith("ownership.") or "ownership" in a}
    supervisor = make_user("supervisor")
    assert (
        app_client.get("/api/v1/reports/campaign-ownership", headers=supervisor.headers).status_code
        == 403
    )


def test_release_all_and_audit(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    list_id, campaign_a, campaign_b, a, b = shared_list(api, make_user, records=3)
    first(app_client, a, campaign_a, "interested")
    first(app_client, b, campaign_b, "interested")
    claims = api.get("/api/v1/audit", params={"action": "ownership.claim"}).json()
    assert {e["after"]["campaign"] for e in claims} == {"A", "B"}
    url = f"/api/v1/contact-lists/{list_id}/ownership/release"
    unknown = api.post(url, json={"campaign_ids": [campaign_a, 999999]})
    assert unknown.status_code == 422
    assert "999999" in unknown.json()["error"]["message"]
    both = api.post(url, json={"all": True, "reason": "end of quarter"})
    assert both.json()["total"] == 2
    releases = api.get("/api/v1/audit", params={"action": "ownership.release"}).json()
    assert [e["reason"] for e in releases] == ["end of quarter"] * 2
    assert api.get(f"/api/v1/contact-lists/{list_id}/ownership").json()["total"] == 0
    assert api.post(url, json={}).status_code == 422


def test_settings_are_validated(api: TestClient, make_user: MakeUser) -> None:
    list_id = make_list(api, owned_rows(["x"]))
    response = api.put(
        f"/api/v1/contact-lists/{list_id}/ownership/settings", json={"enabled": True}
    )
    assert response.status_code == 422
    assert "needs a duration" in response.json()["error"]["message"]
    shown = api.get(f"/api/v1/contact-lists/{list_id}").json()["ownership"]
    assert shown == {"enabled": False, "days": 0, "hours": 0, "no_expiration": False}


def test_deleting_a_campaign_releases_what_it_owned(
    api: TestClient, app_client: TestClient, make_user: MakeUser
) -> None:
    _list_id, campaign_a, campaign_b, a, b = shared_list(api, make_user, records=1)
    taken = first(app_client, a, campaign_a, "interested")
    api.post(f"/api/v1/campaigns/{campaign_a}/stop")
    assert api.delete(f"/api/v1/campaigns/{campaign_a}").status_code == 204
    freed = get_record(app_client, b, campaign_b)
    assert freed is not None and account(freed) == account(taken)
