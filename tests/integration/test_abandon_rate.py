"""The abandon-rate report of a campaign: per day in a time zone, and over a rolling window,
from the calls the dialing engine stored."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from callhopper.domain.campaigns import DialingMode
from callhopper.domain.dialer import CallResult
from callhopper.ports.calls import PlacedCall
from callhopper.simulation.floor import create_floor
from callhopper.store.db import Database
from callhopper.store.uow import SqlUnitOfWork
from tests.conftest import T0


def add_call(
    uow: SqlUnitOfWork, campaign_id: int, n: int, at: datetime, result: CallResult
) -> None:
    with uow.write() as tx:
        tx.calls.add(
            PlacedCall(
                id=f"call-{n}",
                campaign_id=campaign_id,
                record_id=n,
                number="+12125550100",
                caller_id="+14155550100",
                engine="test",
                agent_id=None,
                placed_at=at - timedelta(seconds=10),
                ring_timeout_s=25,
            )
        )
        by = "machine" if result is CallResult.MACHINE else "person"
        tx.calls.answered(f"call-{n}", at, by)
        tx.calls.finish(f"call-{n}", result, at, message_played=result is CallResult.ABANDONED)


def test_the_abandon_rate_per_day_and_over_the_window(api: TestClient, db: Database) -> None:
    uow = SqlUnitOfWork(db)
    floor = create_floor(uow, T0, agents=1, records=5, mode=DialingMode.PREDICTIVE, seed=3)
    # T0 is Monday 15:00 UTC. Sunday: 20 answers by a person, 2 abandoned (10%); Monday:
    # 50, 1 abandoned (2%); a machine is no person; 40 days ago: out of the window.
    n = 0
    for day, answered, abandoned in ((1, 20, 2), (0, 50, 1), (40, 10, 10)):
        for k in range(answered):
            n += 1
            result = CallResult.ABANDONED if k < abandoned else CallResult.CONNECTED
            add_call(uow, floor.campaign_id, n, T0 - timedelta(days=day), result)
    add_call(uow, floor.campaign_id, n + 1, T0, CallResult.MACHINE)

    report = api.get(f"/api/v1/campaigns/{floor.campaign_id}/abandon-rate").json()
    assert (report["first_day"], report["last_day"]) == ("2026-02-01", "2026-03-02")
    assert (report["answered_by_person"], report["abandoned"]) == (70, 3)
    assert abs(report["rate"] - 3 / 70) < 1e-9
    assert report["target"] == 0.03 and report["days_over_target"] == 1
    assert [(d["day"], d["abandoned"], d["over_target"]) for d in report["days"]] == [
        ("2026-03-01", 2, True),
        ("2026-03-02", 1, False),
    ]
    # Days are the time zone's: 15:00 UTC on Monday is 00:00 on Tuesday in Tokyo, so the
    # window of one day is Tuesday there, and holds Monday's calls made at T0.
    path = f"/api/v1/campaigns/{floor.campaign_id}/abandon-rate"
    tokyo = api.get(path, params={"tz": "Asia/Tokyo", "days": 1}).json()
    assert tokyo["last_day"] == "2026-03-03" and tokyo["answered_by_person"] == 50

    for params, field in (({"tz": "Mars/Olympus"}, "tz"), ({"days": 0}, "days")):
        refused = api.get(f"/api/v1/campaigns/{floor.campaign_id}/abandon-rate", params=params)
        assert refused.status_code == 422, refused.text
        assert field in refused.text
    assert api.get("/api/v1/campaigns/999/abandon-rate").status_code == 404
